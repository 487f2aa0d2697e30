"""Sign-in, sign-out and token lifetime, through the HTTP API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD, login, open_conversation

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"


async def test_login_returns_a_token_that_expires_and_the_user(
    staff_client: httpx.AsyncClient,
) -> None:
    response = await staff_client.post(
        LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"token", "expires_at", "user", "enrol_second_factor"}
    assert body["enrol_second_factor"] is False
    assert body["user"] == {
        "id": body["user"]["id"],
        "email": ADMIN_EMAIL,
        "name": "Admin",
        "role": "admin",
        "active": True,
        "presence": "offline",
        "last_seen_at": None,
        "totp_enabled": False,
    }
    expires_at = datetime.fromisoformat(body["expires_at"])
    expected = datetime.now(UTC) + timedelta(hours=12)  # the default token_hours
    assert abs(expires_at - expected) < timedelta(minutes=1)
    assert "password" not in response.text and "argon2" not in response.text

    me = await staff_client.get(ME, headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == ADMIN_EMAIL
    assert "password" not in me.text


async def test_email_ignores_case_and_surrounding_spaces(staff_client: httpx.AsyncClient) -> None:
    headers = await login(staff_client, "  Admin@EXAMPLE.com ", ADMIN_PASSWORD)
    assert (await staff_client.get(ME, headers=headers)).json()["email"] == ADMIN_EMAIL


async def test_unknown_email_and_wrong_password_get_the_same_answer(
    staff_client: httpx.AsyncClient,
) -> None:
    wrong = await staff_client.post(LOGIN, json={"email": ADMIN_EMAIL, "password": "nope nope"})
    unknown = await staff_client.post(
        LOGIN, json={"email": "nobody@example.com", "password": ADMIN_PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["message"] == "email or password is wrong"


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic YWRtaW46YWRtaW4=", "Bearer ", "Bearer not-a-token", "customer"],
    ids=["missing", "basic", "empty", "unknown", "customer-token"],
)
async def test_staff_routes_need_a_staff_token(
    staff_client: httpx.AsyncClient, authorization: str | None
) -> None:
    if authorization == "customer":
        _, headers = await open_conversation(staff_client)
    else:
        headers = {"Authorization": authorization} if authorization else {}
    response = await staff_client.get(ME, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert (
        "/api/v1/auth/login" in response.json()["error"]["message"]
        or "Bearer" in (response.json()["error"]["message"])
    )


async def test_logout_revokes_that_token_only(staff_client: httpx.AsyncClient) -> None:
    first = await login(staff_client, ADMIN_EMAIL, ADMIN_PASSWORD)
    second = await login(staff_client, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert first != second

    response = await staff_client.post("/api/v1/auth/logout", headers=first)
    assert response.status_code == 204
    assert response.content == b""
    assert (await staff_client.get(ME, headers=first)).status_code == 401
    assert (await staff_client.post("/api/v1/auth/logout", headers=first)).status_code == 401
    assert (await staff_client.get(ME, headers=second)).status_code == 200


async def test_token_stops_working_when_it_expires(start_app: Callable[..., Any]) -> None:
    async with start_app(**ADMIN, auth={"token_hours": 3 / 3600}) as client:  # three seconds
        response = await client.post(LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        body = response.json()
        expires_at = datetime.fromisoformat(body["expires_at"])
        lifetime = expires_at - datetime.now(UTC)
        # Measured after the answer arrived: at most three seconds, and (unless the machine
        # stalled for seconds) still running, when the token must open the API.
        assert lifetime <= timedelta(seconds=3)
        headers = {"Authorization": f"Bearer {body['token']}"}
        if lifetime > timedelta(0):
            assert (await client.get(ME, headers=headers)).status_code == 200
        # Wait until just past the expiry the service announced, however long the above took.
        await asyncio.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 0.2)
        expired = await client.get(ME, headers=headers)
        assert expired.status_code == 401
        assert "expired" in expired.json()["error"]["message"]


async def test_requests_record_when_the_user_was_last_seen(
    staff_client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    first = (await staff_client.get(ME, headers=admin_headers)).json()["last_seen_at"]
    assert first is not None
    seen = datetime.fromisoformat(first)
    assert abs(datetime.now(UTC) - seen) < timedelta(seconds=10)
    # Written at most every 15 s per user: an immediate second request leaves it unchanged.
    assert (await staff_client.get(ME, headers=admin_headers)).json()["last_seen_at"] == first


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": ADMIN_EMAIL}, "password"),
        ({"password": ADMIN_PASSWORD}, "email"),
        ({"email": ADMIN_EMAIL, "password": ""}, "password"),
        ({"email": ADMIN_EMAIL, "password": "x" * 1025}, "password"),
        ({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "remember": True}, "remember"),
    ],
    ids=["no-password", "no-email", "empty-password", "huge-password", "unknown-field"],
)
async def test_malformed_login_is_422(
    staff_client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await staff_client.post(LOGIN, json=body)
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["error"]["fields"]] == [field]
    assert ADMIN_PASSWORD not in response.text, "a rejected password is never echoed"
