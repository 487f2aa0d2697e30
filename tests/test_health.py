"""Liveness, readiness and the demo page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["encoder"]["backend"] == "onnx"
    assert body["encoder"]["dimension"] == 384
    assert body["encoder"]["texts"] >= body["encoder"]["batches"] >= 0
    assert body["knowledge"]["articles"] >= 40
    assert body["knowledge"]["passages"] > body["knowledge"]["articles"]
    assert body["encoder"]["fallback"] is None
    assert body["checks"] == {
        "database": {"ok": True},
        "knowledge_index": {"ok": True},
        "knowledge_refresh": {"ok": True},
    }
    assert "failing" not in body


async def test_demo_page_embeds_the_widget(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "/widget.js" in page.text
    script = await client.get("/widget.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]


async def test_api_docs_are_served_without_a_cdn(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "cdn." not in docs.text
    assert "/static-offline-docs/swagger-ui-bundle.js" in docs.text
    bundle = await client.get("/static-offline-docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    schema = (await client.get("/openapi.json")).json()
    assert "/api/v1/conversations/{conversation_id}/messages" in schema["paths"]


async def test_pages_on_other_sites_may_call_the_api(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/api/v1/conversations/some-id/messages",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    created = await client.post("/api/v1/conversations", headers={"Origin": "https://shop.example"})
    assert created.headers["access-control-allow-origin"] == "*"


async def test_allowed_origins_are_a_setting(start_app: Callable[..., Any]) -> None:
    async with start_app(cors_origins=["https://shop.example"]) as client:
        allowed = await client.post(
            "/api/v1/conversations", headers={"Origin": "https://shop.example"}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
        other = await client.post(
            "/api/v1/conversations", headers={"Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers
