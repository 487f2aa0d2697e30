"""The optional second factor of staff accounts (TOTP), through the HTTP API: enrol (a secret
and an otpauth:// URI, shown once), confirm with a code, then sign in with password and code;
a code is accepted once; wrong codes count as failed sign-ins; admins can be required to use
it without locking the first admin out; an admin resets another user's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp

from tests.conftest import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD, STAFF_PASSWORD, login, make_staff

LOGIN = "/api/v1/auth/login"
ENROL = "/api/v1/auth/totp/enrol"
CONFIRM = "/api/v1/auth/totp/confirm"


def code_for(secret: str, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows for `secret`, now or `steps_ahead` steps later."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


async def enrol(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """Enrol and confirm a second factor; returns its secret (its current step is spent)."""
    response = await client.post(ENROL, headers=headers)
    assert response.status_code == 200, response.text
    secret: str = response.json()["secret"]
    confirmed = await client.post(CONFIRM, json={"code": code_for(secret)}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["totp_enabled"] is True
    return secret


async def _login(
    client: httpx.AsyncClient, email: str, password: str, code: str | None = None
) -> httpx.Response:
    body = {"email": email, "password": password}
    if code is not None:
        body["totp"] = code
    return await client.post(LOGIN, json=body)


async def test_enrol_confirm_then_sign_in_with_a_code(
    staff_client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    ann, ann_auth = await make_staff(
        staff_client, admin_headers, email="ann@example.com", name="Ann", role="agent"
    )
    assert ann["totp_enabled"] is False
    started = await staff_client.post(ENROL, headers=ann_auth)
    assert started.status_code == 200, started.text
    assert started.headers["cache-control"] == "no-store"
    secret = started.json()["secret"]
    uri = urlparse(started.json()["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert parse_qs(uri.query)["secret"] == [secret]
    assert parse_qs(uri.query)["issuer"] == ["Switchboard"]
    assert "ann%40example.com" in uri.path or "ann@example.com" in uri.path

    # Until it is confirmed, the password alone still signs in.
    assert (await _login(staff_client, "ann@example.com", STAFF_PASSWORD)).status_code == 200
    wrong = await staff_client.post(CONFIRM, json={"code": "000000"}, headers=ann_auth)
    if wrong.status_code == 200:  # one chance in a million: 000000 was the code
        return
    assert wrong.status_code == 422 and "does not match" in wrong.json()["error"]["message"]
    malformed = await staff_client.post(CONFIRM, json={"code": "12345"}, headers=ann_auth)
    assert malformed.status_code == 422
    assert malformed.json()["error"]["fields"][0]["field"] == "code"

    confirmed = await staff_client.post(CONFIRM, json={"code": code_for(secret)}, headers=ann_auth)
    assert confirmed.status_code == 200 and confirmed.json()["totp_enabled"] is True

    # From now on the password alone is not enough, and the answer says what to send.
    needed = await _login(staff_client, "ann@example.com", STAFF_PASSWORD)
    assert needed.status_code == 401
    assert needed.json()["error"]["second_factor"] == "required"
    assert "`totp`" in needed.json()["error"]["message"]
    # The code of the next step (within the accepted drift; this step's was spent confirming).
    signed_in = await _login(staff_client, "ann@example.com", STAFF_PASSWORD, code_for(secret, 1))
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["user"]["totp_enabled"] is True
    # A wrong password with a right code is still the plain wrong-credentials answer.
    wrong_password = await _login(staff_client, "ann@example.com", "not it at all", "123456")
    assert wrong_password.status_code == 401
    assert wrong_password.json()["error"]["message"] == "email or password is wrong"

    # The secret is never shown again: enrolling again is refused.
    again = await staff_client.post(ENROL, headers=ann_auth)
    assert again.status_code == 409 and "reset" in again.json()["error"]["message"]
    assert secret not in (await staff_client.get("/api/v1/auth/me", headers=ann_auth)).text
    listed = await staff_client.get("/api/v1/admin/users", headers=admin_headers)
    assert secret not in listed.text
    assert {u["email"]: u["totp_enabled"] for u in listed.json()}["ann@example.com"] is True


async def test_a_code_is_accepted_once(
    staff_client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    _, ann_auth = await make_staff(
        staff_client, admin_headers, email="ann@example.com", name="Ann", role="agent"
    )
    secret = await enrol(staff_client, ann_auth)
    code = code_for(secret, 1)
    first = await _login(staff_client, "ann@example.com", STAFF_PASSWORD, code)
    assert first.status_code == 200
    replayed = await _login(staff_client, "ann@example.com", STAFF_PASSWORD, code)
    assert replayed.status_code == 401
    assert replayed.json()["error"]["second_factor"] == "wrong"
    assert "already used" in replayed.json()["error"]["message"]
    # The code of the confirming step, older than the one used: refused too.
    older = await _login(staff_client, "ann@example.com", STAFF_PASSWORD, code_for(secret))
    assert older.status_code == 401


async def test_a_code_sent_in_parallel_opens_one_session(
    staff_client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    _, ann_auth = await make_staff(
        staff_client, admin_headers, email="ann@example.com", name="Ann", role="agent"
    )
    secret = await enrol(staff_client, ann_auth)
    code = code_for(secret, 1)
    answers = await asyncio.gather(
        *(_login(staff_client, "ann@example.com", STAFF_PASSWORD, code) for _ in range(4))
    )
    assert sorted(a.status_code for a in answers) == [200, 401, 401, 401]


async def test_wrong_codes_count_as_failed_sign_ins(start_app: Callable[..., Any]) -> None:
    async with start_app(**ADMIN, auth={"login_attempts": "3/minute"}) as client:
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        secret = await enrol(client, admin)
        right = code_for(secret, 1)
        wrong = f"{(int(right) + 1) % 1_000_000:06d}"
        for _ in range(3):
            response = await _login(client, ADMIN_EMAIL, ADMIN_PASSWORD, wrong)
            assert response.status_code in (401, 200)
            if response.status_code == 200:  # `wrong` was another accepted step's code
                return
        refused = await _login(client, ADMIN_EMAIL, ADMIN_PASSWORD, right)
        assert refused.status_code == 429, "the right code does not get past the limit"
        # Asking for the code (right password, no code) is not a failure.
        assert int(refused.headers["retry-after"]) >= 1


async def test_a_missing_code_is_not_counted(start_app: Callable[..., Any]) -> None:
    async with start_app(**ADMIN, auth={"login_attempts": "2/minute"}) as client:
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        secret = await enrol(client, admin)
        for _ in range(3):
            asked = await _login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
            assert asked.status_code == 401
            assert asked.json()["error"]["second_factor"] == "required"
        done = await _login(client, ADMIN_EMAIL, ADMIN_PASSWORD, code_for(secret, 1))
        assert done.status_code == 200


async def test_admins_can_be_required_to_enrol_without_being_locked_out(
    start_app: Callable[..., Any],
) -> None:
    async with start_app(**ADMIN, auth={"require_totp_for_admins": True}) as client:
        # The first admin signs in with the password alone...
        response = await _login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        assert response.status_code == 200, response.text
        assert response.json()["enrol_second_factor"] is True
        headers = {"Authorization": f"Bearer {response.json()['token']}"}
        # ...but the token opens nothing but enrolment (and /me, logout) until confirmed.
        refused = await client.get("/api/v1/admin/users", headers=headers)
        assert refused.status_code == 403
        assert refused.json()["error"]["second_factor"] == "enrol"
        assert "/api/v1/auth/totp/enrol" in refused.json()["error"]["message"]
        assert (await client.get("/api/v1/agent/queue", headers=headers)).status_code == 403
        assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
        secret = await enrol(client, headers)
        assert (await client.get("/api/v1/admin/users", headers=headers)).status_code == 200

        # Agents are not required to enrol.
        _, agent_auth = await make_staff(
            client, headers, email="ann@example.com", name="Ann", role="agent"
        )
        assert (await client.get("/api/v1/agent/queue", headers=agent_auth)).status_code == 200

        needed = await _login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        assert needed.json()["error"]["second_factor"] == "required"
        done = await _login(client, ADMIN_EMAIL, ADMIN_PASSWORD, code_for(secret, 1))
        assert done.status_code == 200 and done.json()["enrol_second_factor"] is False


async def test_an_admin_resets_another_users_second_factor(
    staff_client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    ann, ann_auth = await make_staff(
        staff_client, admin_headers, email="ann@example.com", name="Ann", role="agent"
    )
    await enrol(staff_client, ann_auth)
    assert (await _login(staff_client, "ann@example.com", STAFF_PASSWORD)).status_code == 401

    reset_url = f"/api/v1/admin/users/{ann['id']}/totp/reset"
    by_agent = await staff_client.post(reset_url, headers=ann_auth)
    assert by_agent.status_code == 403
    reset = await staff_client.post(reset_url, headers=admin_headers)
    assert reset.status_code == 200 and reset.json()["totp_enabled"] is False
    assert (await _login(staff_client, "ann@example.com", STAFF_PASSWORD)).status_code == 200
    # She can enrol a new device.
    await enrol(staff_client, ann_auth)
    missing = await staff_client.post(
        "/api/v1/admin/users/999999/totp/reset", headers=admin_headers
    )
    assert missing.status_code == 404
