"""Role checks on every staff route, table-driven from the app's own route list: without a
token 401, with a customer's conversation token 401, an agent on an admin route 403, and an
admin gets past authorization on all of them (so a new route cannot ship unprotected)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.main import create_app
from tests.conftest import (
    ADMIN,
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    login,
    make_settings,
    make_staff,
    open_conversation,
)

STAFF_PREFIXES = ("/api/v1/agent", "/api/v1/admin")
SELF_SERVICE = {("GET", "/api/v1/auth/me"), ("POST", "/api/v1/auth/logout")}
PATH_VALUES = {"conversation_id": "00000000-0000-0000-0000-000000000000"}


def staff_routes() -> list[tuple[str, str]]:
    """(method, path) of every HTTP route that needs a staff token, from the OpenAPI schema."""
    paths = create_app(make_settings(Path("/nonexistent"))).openapi()["paths"]
    found = set(SELF_SERVICE)
    for path, operations in paths.items():
        if path.startswith(STAFF_PREFIXES):
            found.update((method.upper(), path) for method in operations)
    return sorted(found)


ROUTES = staff_routes()


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "999999"), path)


def test_the_table_covers_the_staff_api() -> None:
    paths = {p for _, p in ROUTES}
    for expected in (
        "/api/v1/agent/queue",
        "/api/v1/agent/conversations/{conversation_id}/claim",
        "/api/v1/agent/conversations/{conversation_id}/messages",
        "/api/v1/agent/conversations/{conversation_id}/notes",
        "/api/v1/agent/conversations/{conversation_id}/resolve",
        "/api/v1/agent/conversations/{conversation_id}/handback",
        "/api/v1/agent/conversations/{conversation_id}/transfer",
        "/api/v1/agent/conversations/{conversation_id}/assist",
        "/api/v1/admin/users",
        "/api/v1/admin/canned",
    ):
        assert expected in paths


async def test_every_staff_route_checks_roles(start_app: Callable[..., Any]) -> None:
    async with start_app(**ADMIN) as client:
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        _, agent = await make_staff(
            client, admin, email="agent@example.com", name="Agent", role="agent"
        )
        _, customer = await open_conversation(client)
        failures = []
        for method, path in ROUTES:
            url = concrete(path)
            body = {} if method in ("POST", "PUT", "PATCH") else None
            cases: list[tuple[str, dict[str, str], set[int]]] = [
                ("no token", {}, {401}),
                ("customer token", customer, {401}),
            ]
            if path.startswith("/api/v1/admin"):
                cases.append(("agent token", agent, {403}))
            for label, headers, expected in cases:
                response = await client.request(method, url, json=body, headers=headers)
                if response.status_code not in expected:
                    failures.append(f"{method} {path} with {label}: {response.status_code}")
            if (method, path) == ("POST", "/api/v1/auth/logout"):
                continue
            response = await client.request(method, url, json=body, headers=admin)
            if response.status_code in (401, 403):
                failures.append(f"{method} {path} as admin: {response.status_code}")
        assert not failures, "\n".join(failures)
