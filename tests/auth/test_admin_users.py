"""User management at /api/v1/admin/users: admins only, validated input, deactivation that
takes effect at once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    STAFF_PASSWORD,
    login,
    make_staff,
    open_conversation,
)

USERS = "/api/v1/admin/users"
ME = "/api/v1/auth/me"
NEW_USER = {"email": "new@example.com", "password": "long enough", "name": "New", "role": "agent"}


async def test_admin_creates_lists_and_reads_users(
    staff_client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await staff_client.post(
        USERS,
        json={
            "email": " Ann@Example.COM ",
            "password": STAFF_PASSWORD,
            "name": " Ann ",
            "role": "agent",
        },
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    ann = created.json()
    assert ann == {
        "id": ann["id"],
        "email": "ann@example.com",
        "name": "Ann",
        "role": "agent",
        "active": True,
        "presence": "offline",
        "last_seen_at": None,
        "totp_enabled": False,
    }
    assert STAFF_PASSWORD not in created.text

    listed = await staff_client.get(USERS, headers=admin_headers)
    assert listed.status_code == 200
    assert [u["email"] for u in listed.json()] == [ADMIN_EMAIL, "ann@example.com"]
    assert "password" not in listed.text and "argon2" not in listed.text

    read = await staff_client.get(f"{USERS}/{ann['id']}", headers=admin_headers)
    assert read.json() == ann

    headers = await login(staff_client, "ANN@example.com", STAFF_PASSWORD)
    assert (await staff_client.get(ME, headers=headers)).json()["role"] == "agent"


async def test_an_email_is_taken_whatever_its_case(
    staff_client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    assert (await staff_client.post(USERS, json=NEW_USER, headers=admin_headers)).status_code == 201
    again = await staff_client.post(
        USERS, json={**NEW_USER, "email": "NEW@example.com", "role": "admin"}, headers=admin_headers
    )
    assert again.status_code == 409
    assert "new@example.com already exists" in again.json()["error"]["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"password": "short"}, "password"),
        ({"password": " " * 12}, "password"),
        ({"password": "x" * 257}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"name": "   "}, "name"),
        ({"name": "n" * 101}, "name"),
        ({"role": "owner"}, "role"),
        ({"active": False}, "active"),
        ({"password": None}, "password"),
    ],
    ids=[
        "short-password",
        "blank-password",
        "long-password",
        "bad-email",
        "email-without-domain",
        "blank-name",
        "long-name",
        "unknown-role",
        "unknown-field",
        "null-password",
    ],
)
async def test_invalid_user_is_422(
    staff_client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    change: dict[str, Any],
    field: str,
) -> None:
    response = await staff_client.post(USERS, json={**NEW_USER, **change}, headers=admin_headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert [f["field"] for f in error["fields"]] == [field]
    assert (await staff_client.get(USERS, headers=admin_headers)).json()[-1]["email"] == ADMIN_EMAIL


ADMIN_ROUTES = [
    ("POST", USERS, NEW_USER),
    ("GET", USERS, None),
    ("GET", f"{USERS}/{{id}}", None),
    ("POST", f"{USERS}/{{id}}/deactivate", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_admin_routes_refuse_everyone_but_admins(
    staff_client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    """401 without staff credentials (a customer's token is not one), 403 for agents, 404 for an
    unknown user, then success for an admin."""
    agent, agent_headers = await make_staff(
        staff_client, admin_headers, email="agent@example.com", name="Agent", role="agent"
    )
    _, customer_headers = await open_conversation(staff_client)
    url = path.format(id=agent["id"])

    async def call(headers: dict[str, str], target: str = url) -> httpx.Response:
        return await staff_client.request(method, target, json=body, headers=headers)

    assert (await call({})).status_code == 401
    assert (await call(customer_headers)).status_code == 401
    forbidden = await call(agent_headers)
    assert forbidden.status_code == 403
    assert "only admins" in forbidden.json()["error"]["message"]
    if "{id}" in path:
        missing = await call(admin_headers, path.format(id=999_999))
        assert missing.status_code == 404
        assert "user 999999 does not exist" in missing.json()["error"]["message"]
    assert (await call(admin_headers)).status_code in (200, 201)


async def test_deactivation_revokes_tokens_and_sign_in_at_once(
    staff_client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    agent, first = await make_staff(
        staff_client, admin_headers, email="leaver@example.com", name="Leaver", role="agent"
    )
    second = await login(staff_client, "leaver@example.com", STAFF_PASSWORD)
    assert (await staff_client.get(ME, headers=first)).status_code == 200

    response = await staff_client.post(f"{USERS}/{agent['id']}/deactivate", headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["active"] is False

    for headers in (first, second):
        assert (await staff_client.get(ME, headers=headers)).status_code == 401
    right = await staff_client.post(
        "/api/v1/auth/login", json={"email": "leaver@example.com", "password": STAFF_PASSWORD}
    )
    wrong = await staff_client.post(
        "/api/v1/auth/login", json={"email": "leaver@example.com", "password": "wrong password"}
    )
    assert right.status_code == wrong.status_code == 401
    assert right.json() == wrong.json(), "a deactivated account looks like a wrong password"

    again = await staff_client.post(f"{USERS}/{agent['id']}/deactivate", headers=admin_headers)
    assert again.status_code == 200
    listed = {
        u["email"]: u["active"]
        for u in (await staff_client.get(USERS, headers=admin_headers)).json()
    }
    assert listed == {ADMIN_EMAIL: True, "leaver@example.com": False}


async def test_an_admin_cannot_deactivate_themselves(
    staff_client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    me = (await staff_client.get(ME, headers=admin_headers)).json()
    response = await staff_client.post(f"{USERS}/{me['id']}/deactivate", headers=admin_headers)
    assert response.status_code == 409
    assert "your own account" in response.json()["error"]["message"]

    # Another admin can; the first admin's token then stops working.
    _, other = await make_staff(
        staff_client, admin_headers, email="second@example.com", name="Second", role="admin"
    )
    assert (
        await staff_client.post(f"{USERS}/{me['id']}/deactivate", headers=other)
    ).status_code == 200
    assert (await staff_client.get(ME, headers=admin_headers)).status_code == 401
    assert (
        await staff_client.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
    ).status_code == 401


async def test_unknown_user_ids_out_of_range_are_422(
    staff_client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for user_id in ("0", "abc", str(2**64)):
        response = await staff_client.get(f"{USERS}/{user_id}", headers=admin_headers)
        assert response.status_code == 422, user_id
