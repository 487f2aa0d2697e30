"""The API reference pages: Swagger UI at /docs and ReDoc at /redoc, from the copies bundled
in `fastapi_offline` (no CDN, so they work on an offline host), under the strict page policy
of app/security_headers.py: Swagger UI's one inline start-up script runs by a per-response
nonce. `SWITCHBOARD_API_DOCS=false` serves neither page nor /openapi.json.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.security_headers import docs_csp

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/static-offline-docs"


def _with_nonce(page: HTMLResponse) -> HTMLResponse:
    """`page` with a nonce on its inline scripts and the docs policy naming it."""
    nonce = secrets.token_urlsafe(16)
    html = bytes(page.body).replace(b"<script>", f'<script nonce="{nonce}">'.encode())
    return HTMLResponse(html, headers={"Content-Security-Policy": docs_csp(nonce)})


def install_api_docs(app: FastAPI) -> None:
    """Add /docs, /redoc and their assets to `app` (whose `openapi_url` they read)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="static-offline-docs")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _with_nonce(
            get_swagger_ui_html(
                openapi_url=f"{root}{openapi_url}",
                title=f"{app.title} - Swagger UI",
                oauth2_redirect_url=None,
                swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                # The validator badge would load an image from validator.swagger.io.
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _with_nonce(
            get_redoc_html(
                openapi_url=f"{root}{openapi_url}",
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                with_google_fonts=False,
            )
        )
