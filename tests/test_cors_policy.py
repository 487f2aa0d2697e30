"""CORS over HTTP: the customer routes the widget calls answer the configured widget origins
(preflight and simple requests); staff and admin routes answer no other origin, whatever it
is; the shared `GET /api/v1/conversations/{id}` gives a staff view without CORS headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD, login, open_conversation

SHOP = "https://shop.example"
STRANGER = "https://evil.example"
STAFF_ROUTES = [
    ("POST", "/api/v1/auth/login"),
    ("GET", "/api/v1/auth/me"),
    ("GET", "/api/v1/agent/queue"),
    ("POST", "/api/v1/agent/conversations/abc/messages"),
    ("GET", "/api/v1/admin/users"),
    ("GET", "/api/v1/admin/analytics/summary"),
    ("GET", "/api/v1/admin/analytics/conversations.csv"),
    ("POST", "/api/v1/admin/kb/articles"),
    ("GET", "/api/v1/admin/kb/export"),
    ("GET", "/api/v1/admin/insights/gaps"),
    ("GET", "/openapi.json"),
]


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


async def preflight(client: httpx.AsyncClient, method: str, path: str, origin: str) -> Any:
    return await client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


async def test_widget_origins_reach_the_customer_routes_and_nothing_else(
    start_app: Callable[..., Any],
) -> None:
    async with start_app(cors_origins=[SHOP], **ADMIN) as client:
        # Preflight and simple requests of the widget from the shop's pages.
        for method, path in [
            ("POST", "/api/v1/conversations"),
            ("GET", "/api/v1/conversations/abc"),
            ("POST", "/api/v1/conversations/abc/messages"),
            ("GET", "/api/v1/conversations/abc/messages"),
            ("POST", "/api/v1/conversations/abc/csat"),
            ("POST", "/api/v1/conversations/abc/contact"),
        ]:
            allowed = await preflight(client, method, path, SHOP)
            assert allowed.status_code == 200, (path, allowed.text)
            headers = cors_headers(allowed)
            assert headers["access-control-allow-origin"] == SHOP
            assert method in headers["access-control-allow-methods"]
            assert "authorization" in headers["access-control-allow-headers"].lower()
            assert "access-control-allow-credentials" not in headers
            refused = await preflight(client, method, path, STRANGER)
            assert refused.status_code == 400 and "allow-origin" not in str(cors_headers(refused))
        created = await client.post("/api/v1/conversations", headers={"Origin": SHOP})
        assert created.status_code == 201
        assert created.headers["access-control-allow-origin"] == SHOP
        assert "retry-after" in created.headers["access-control-expose-headers"].lower()
        body = created.json()
        customer = {"Authorization": f"Bearer {body['token']}", "Origin": SHOP}
        view = await client.get(f"/api/v1/conversations/{body['id']}", headers=customer)
        assert view.status_code == 200 and view.headers["access-control-allow-origin"] == SHOP
        script = await client.get("/widget.js", headers={"Origin": SHOP})
        assert script.headers["access-control-allow-origin"] == SHOP
        stranger = await client.post("/api/v1/conversations", headers={"Origin": STRANGER})
        assert stranger.status_code == 201
        assert "access-control-allow-origin" not in stranger.headers

        # Staff and admin routes: no CORS header for any origin, configured or not.
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        for method, path in STAFF_ROUTES:
            for origin in (SHOP, STRANGER):
                answer = await preflight(client, method, path, origin)
                assert cors_headers(answer) == {}, (path, origin)
                call = await client.request(method, path, headers={**admin, "Origin": origin})
                assert cors_headers(call) == {}, (path, origin, call.status_code)

        # The shared conversation route: a staff token's view goes out without CORS headers.
        staff_view = await client.get(
            f"/api/v1/conversations/{body['id']}", headers={**admin, "Origin": SHOP}
        )
        assert staff_view.status_code == 200 and "events" in staff_view.json()
        assert cors_headers(staff_view) == {}


async def test_by_default_any_site_may_embed_the_widget(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/v1/conversations", headers={"Origin": STRANGER})
    assert created.headers["access-control-allow-origin"] == "*"
    opened = await open_conversation(client)
    answer = await preflight(
        client, "POST", f"/api/v1/conversations/{opened[0]}/messages", STRANGER
    )
    assert answer.headers["access-control-allow-origin"] == "*"
    login_preflight = await preflight(client, "POST", "/api/v1/auth/login", STRANGER)
    assert cors_headers(login_preflight) == {}
