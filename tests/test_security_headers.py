"""Browser-hardening headers over HTTP: every kind of response carries nosniff, no framing, a
Permissions-Policy and a CSP; pages get the page policy (no inline script or style), the API
reference a nonce policy, and `SWITCHBOARD_API_DOCS=false` turns the reference off."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import open_conversation

COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


def assert_hardened(response: httpx.Response) -> str:
    """The response's CSP, after checking the headers every response carries."""
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, (response.request.url, name)
    policy = response.headers["permissions-policy"]
    assert "camera=()" in policy and "microphone=()" in policy and "geolocation=()" in policy
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    return csp


async def test_pages_api_errors_and_files_all_carry_the_headers(client: httpx.AsyncClient) -> None:
    for path in ("/agent", "/admin"):
        page = await client.get(path)
        assert page.status_code == 200
        csp = assert_hardened(page)
        assert "script-src 'self';" in csp and "style-src 'self';" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert page.headers["referrer-policy"] == "no-referrer"
    demo = await client.get("/")
    assert "script-src 'self';" in assert_hardened(demo)
    assert demo.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    # The HTML has no inline script, event handler or style left to need 'unsafe-inline'.
    for path in ("/", "/agent", "/admin"):
        html = (await client.get(path)).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\son[a-z]+=", html) and "<style" not in html, path
        assert " style=" not in html, path

    # API answers, errors and static files: nothing of theirs may run as a page.
    opened = await open_conversation(client)
    for response in (
        await client.post("/api/v1/conversations"),
        await client.get(f"/api/v1/conversations/{opened[0]}", headers=opened[1]),
        await client.get("/api/v1/agent/queue"),  # 401
        await client.get("/api/v1/nowhere"),  # 404
        await client.get("/widget.js"),
        await client.get("/static/agent/app.js"),
        await client.get("/healthz"),
    ):
        csp = assert_hardened(response)
        assert csp.startswith("default-src 'none'"), response.request.url
        assert response.headers["referrer-policy"] == "no-referrer"


async def test_the_api_reference_runs_its_script_by_nonce(client: httpx.AsyncClient) -> None:
    nonces = []
    for _ in range(2):
        docs = await client.get("/docs")
        assert docs.status_code == 200
        csp = assert_hardened(docs)
        nonce = re.search(r"'nonce-([^']+)'", csp)
        assert nonce, csp
        assert f'<script nonce="{nonce[1]}">' in docs.text
        assert "/static-offline-docs/swagger-ui-bundle.js" in docs.text  # bundled, no CDN
        nonces.append(nonce[1])
    assert nonces[0] != nonces[1]  # a fresh nonce per response
    redoc = await client.get("/redoc")
    assert redoc.status_code == 200 and "worker-src 'self' blob:" in assert_hardened(redoc)
    assert (await client.get("/openapi.json")).status_code == 200
    assert (await client.get("/static-offline-docs/swagger-ui.css")).status_code == 200


async def test_api_docs_can_be_turned_off(start_app: Callable[..., Any]) -> None:
    async with start_app(api_docs=False) as client:
        for path in ("/docs", "/redoc", "/openapi.json", "/static-offline-docs/swagger-ui.css"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert_hardened(response)
        assert (await client.post("/api/v1/conversations")).status_code == 201
