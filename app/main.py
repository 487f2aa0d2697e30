"""Builds the FastAPI application: routes, error handlers, and a lifespan that starts the
runtime (database, encoder, knowledge index) once."""

from __future__ import annotations

import html
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from app import health, widget_script
from app.agents import stream as agent_stream
from app.agents.router import admin_router as agents_admin_router
from app.agents.router import conversation_router as staff_conversation_router
from app.agents.router import router as agents_router
from app.agents.router import users_router as agents_users_router
from app.analytics.router import router as analytics_router
from app.api_docs import install_api_docs
from app.auth.admin_router import router as admin_users_router
from app.auth.router import router as auth_router
from app.auth.throttle import LoginThrottle
from app.bot import router as bot_routes
from app.config import Settings
from app.conversations import stream as customer_stream
from app.conversations.router import router as conversations_router
from app.cors_policy import CustomerCors
from app.error_handlers import install_error_handlers
from app.insights.router import router as insights_router
from app.kb.router import router as kb_router
from app.kb.transfer_router import router as kb_transfer_router
from app.nlp.embedder import Embedder
from app.runtime import Runtime
from app.security_headers import DEMO_REFERRER, PAGE_CSP, SecurityHeaders, demo_csp
from app.suites.router import router as suites_router

WEB_DIR = Path(__file__).parent / "web"
MAX_BODY_BYTES = 256 * 1024
KB_BODY_BYTES = 64 * 1024 * 1024  # knowledge-base imports and long articles
SUITE_BODY_BYTES = 3 * 1024 * 1024  # a conversation suite's YAML (at most 2 MB) in JSON

log = logging.getLogger(__name__)
DEMO_STORE_SCRIPT = '<script src="/static/demo_store.js" defer></script>'


def demo_store_page(shop_url: str | None) -> str:
    """The demo store page, told where its shop service is when `demo_shop_url` is set (else
    the page looks on this host's port 8077)."""
    page = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    if not shop_url:
        return page
    tag = f'<script src="/static/demo_store.js" data-shop="{html.escape(shop_url)}" defer></script>'
    return page.replace(DEMO_STORE_SCRIPT, tag)


def create_app(settings: Settings | None = None, *, embedder: Embedder | None = None) -> FastAPI:
    """The application; `embedder` lets several apps in one process share a loaded model."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.start(settings, embedder=embedder)
        app.state.runtime = runtime
        try:
            yield
        finally:
            app.state.runtime = None
            await runtime.stop()

    app = FastAPI(
        title="Switchboard",
        version="0.1.0",
        summary="AI-assisted customer-support chat: a knowledge-base bot that hands off to humans.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.api_docs else None,
    )
    if settings.api_docs:
        install_api_docs(app)
    app.state.runtime = None
    app.state.settings = settings
    app.state.login_throttle = LoginThrottle.from_settings(settings)
    install_error_handlers(app)
    # The widget runs on other sites' pages: they may call the customer routes, and only those.
    app.add_middleware(CustomerCors, origins=settings.cors_origins)
    # Outermost: every response, errors included, carries the hardening headers.
    app.add_middleware(SecurityHeaders)
    app.include_router(health.router)
    # The body limit sits on the API routes, inside the CORS and error layers, so a 413 reaches
    # a widget on another site in the usual JSON error shape.
    app.include_router(conversations_router, max_body_size=MAX_BODY_BYTES)
    app.include_router(staff_conversation_router, max_body_size=MAX_BODY_BYTES)
    app.include_router(bot_routes.conversations, max_body_size=MAX_BODY_BYTES)
    app.include_router(auth_router, max_body_size=MAX_BODY_BYTES)
    app.include_router(admin_users_router, max_body_size=MAX_BODY_BYTES)
    app.include_router(agents_users_router, max_body_size=MAX_BODY_BYTES)
    app.include_router(agents_router, max_body_size=MAX_BODY_BYTES)
    app.include_router(bot_routes.agent, max_body_size=MAX_BODY_BYTES)
    app.include_router(agents_admin_router, max_body_size=MAX_BODY_BYTES)
    app.include_router(kb_router, max_body_size=KB_BODY_BYTES)
    app.include_router(bot_routes.admin, max_body_size=KB_BODY_BYTES)
    app.include_router(insights_router, max_body_size=KB_BODY_BYTES)
    app.include_router(analytics_router, max_body_size=MAX_BODY_BYTES)
    app.include_router(kb_transfer_router, max_body_size=KB_BODY_BYTES)
    app.include_router(suites_router, max_body_size=SUITE_BODY_BYTES)
    # WebSockets: frames are capped in app/realtime/sockets.py.
    app.include_router(customer_stream.router)
    app.include_router(agent_stream.router)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    page = {"Content-Security-Policy": PAGE_CSP}

    @app.get("/", include_in_schema=False)
    async def demo_page() -> Response:
        return HTMLResponse(
            demo_store_page(settings.demo_shop_url),
            headers={
                "Content-Security-Policy": demo_csp(settings.demo_shop_url),
                "Referrer-Policy": DEMO_REFERRER,
            },
        )

    @app.get("/agent", include_in_schema=False)
    async def agent_console() -> FileResponse:
        return FileResponse(WEB_DIR / "agent.html", headers=page)

    @app.get("/admin", include_in_schema=False)
    async def admin_console() -> FileResponse:
        return FileResponse(WEB_DIR / "admin.html", headers=page)

    @app.get("/widget.js", include_in_schema=False)
    async def widget() -> Response:
        # widget.js with the shared Markdown renderer inlined: one script for third-party pages
        script = widget_script.build(WEB_DIR)
        return Response(
            script.text,
            media_type="text/javascript",
            headers={"ETag": script.etag, "Last-Modified": script.last_modified},
        )

    return app
