"""Login throttling: failed sign-ins counted per email and per client address, 429 with
Retry-After, no extra tries for parallel guesses, and no hint of which emails exist."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer, make_staff

LOGIN = "/api/v1/auth/login"


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(LOGIN, json={"email": email, "password": password})


async def test_failures_per_email_get_429_with_retry_after(
    staff_client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    _, _ = await make_staff(
        staff_client, admin_headers, email="agent@example.com", name="Ann", role="agent"
    )
    # The default allows 5 failures per 15 minutes; case does not make a new address.
    for email in (
        "admin@example.com",
        "ADMIN@example.com",
        "Admin@Example.com ",
        *[ADMIN_EMAIL] * 2,
    ):
        assert (await _login(staff_client, email, "wrong password")).status_code == 401

    refused = await _login(staff_client, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert refused.status_code == 429, "the right password does not get past the limit"
    retry_after = int(refused.headers["retry-after"])
    assert 0 < retry_after <= 15 * 60
    error = refused.json()["error"]
    assert error["code"] == "too_many_requests"
    assert error["retry_after"] == retry_after
    assert "this email address" in error["message"] and "try again in" in error["message"]

    # Other addresses are not affected.
    assert (await _login(staff_client, "agent@example.com", "correct horse 1")).status_code == 200


async def test_unknown_emails_are_throttled_like_known_ones(
    staff_client: httpx.AsyncClient,
) -> None:
    answers = []
    for email in ("ghost@example.com", ADMIN_EMAIL):
        for _ in range(5):
            assert (await _login(staff_client, email, "wrong password")).status_code == 401
        refused = await _login(staff_client, email, "wrong password")
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert 0 < error["retry_after"] <= 15 * 60
        # The countdown moves between the two refusals (a second may pass on a busy machine);
        # everything else in the answer is the same.
        answers.append(error["message"].replace(str(error["retry_after"]), "<wait>"))
    assert answers[0] == answers[1]


async def test_a_success_clears_the_email_count(staff_client: httpx.AsyncClient) -> None:
    for _ in range(2):
        for _ in range(4):
            assert (await _login(staff_client, ADMIN_EMAIL, "wrong password")).status_code == 401
        assert (await _login(staff_client, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200


async def test_failures_per_client_address(start_app: Callable[..., Any]) -> None:
    async with start_app(**ADMIN, auth={"login_attempts_per_ip": "3/minute"}) as client:
        for n in range(3):
            response = await _login(client, f"guess{n}@example.com", "wrong password")
            assert response.status_code == 401
        refused = await _login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        assert refused.status_code == 429
        assert "your network address" in refused.json()["error"]["message"]
        assert 0 < int(refused.headers["retry-after"]) <= 60


async def test_sign_in_works_again_once_the_window_passes(start_app: Callable[..., Any]) -> None:
    async with start_app(**ADMIN, auth={"login_attempts": "2/2 seconds"}) as client:
        for _ in range(2):
            assert (await _login(client, ADMIN_EMAIL, "wrong password")).status_code == 401
        refused = await _login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        assert refused.status_code == 429
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 2
        await asyncio.sleep(retry_after + 0.1)
        assert (await _login(client, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200


async def test_parallel_guesses_get_no_more_tries_than_the_limit(
    staff_client: httpx.AsyncClient,
) -> None:
    responses = await asyncio.gather(
        *(_login(staff_client, ADMIN_EMAIL, f"guess {n}") for n in range(20))
    )
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {401, 429}
    assert 1 <= statuses[401] <= 5, statuses
    for response in responses:
        if response.status_code == 429:
            assert int(response.headers["retry-after"]) >= 1


def _from_address(server: LiveServer, address: str) -> httpx.AsyncClient:
    """A real HTTP client of `server` whose connections leave from `address` (any 127.x.y.z
    reaches a loopback server on Linux), so the service sees another client address."""
    return httpx.AsyncClient(
        base_url=server, transport=httpx.AsyncHTTPTransport(local_address=address)
    )


async def test_a_strangers_failures_do_not_lock_the_owner_out(
    start_server: Callable[..., Any],
) -> None:
    async with (
        start_server(**ADMIN) as server,
        _from_address(server, "127.0.0.2") as stranger,
        _from_address(server, "127.0.0.3") as owner,
    ):
        # The default: 5 failures per 15 minutes per (email, address).
        for _ in range(5):
            assert (await _login(stranger, ADMIN_EMAIL, "wrong password")).status_code == 401
        refused = await _login(stranger, ADMIN_EMAIL, ADMIN_PASSWORD)
        assert refused.status_code == 429, "the stranger's address is refused, even rightly"
        message = refused.json()["error"]["message"]
        assert "this email address from your network address" in message
        assert 0 < int(refused.headers["retry-after"]) <= 15 * 60

        assert (await _login(owner, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200
        # A failure from the owner's address is still counted for that address alone.
        assert (await _login(owner, ADMIN_EMAIL, "typo password")).status_code == 401
        assert (await _login(owner, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200


async def test_the_per_email_limit_applies_across_addresses(
    start_server: Callable[..., Any],
) -> None:
    async with start_server(**ADMIN, auth={"login_attempts_per_email": "6/hour"}) as server:
        for n in range(3):  # three addresses, two failures each: under their own limit
            async with _from_address(server, f"127.0.1.{n + 1}") as guesser:
                for _ in range(2):
                    response = await _login(guesser, ADMIN_EMAIL, "wrong password")
                    assert response.status_code == 401
        async with _from_address(server, "127.0.2.1") as fresh:
            refused = await _login(fresh, ADMIN_EMAIL, ADMIN_PASSWORD)
            assert refused.status_code == 429, "a fresh address meets the email's global limit"
            message = refused.json()["error"]["message"]
            assert "this email address (from every network address)" in message
            assert "6 per 60 minutes" in message
            assert 0 < int(refused.headers["retry-after"]) <= 3600
            # Other emails are not affected.
            response = await _login(fresh, "someone@example.com", "wrong password")
            assert response.status_code == 401


async def test_every_limit_of_a_setting_applies(start_app: Callable[..., Any]) -> None:
    async with start_app(**ADMIN, auth={"login_attempts": "10/minute;3/hour"}) as client:
        for _ in range(3):
            assert (await _login(client, ADMIN_EMAIL, "wrong password")).status_code == 401
        refused = await _login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        assert refused.status_code == 429
        assert "3 per 60 minutes" in refused.json()["error"]["message"]
