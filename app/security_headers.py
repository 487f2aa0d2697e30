"""The browser-hardening headers every response carries (a pure ASGI middleware), and the
Content-Security-Policy of each kind of page.

Every response gets `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, a
`Permissions-Policy` that turns off the powerful features no page here uses, `no-referrer`, and
`API_CSP` (nothing may load, nothing may frame it), unless the route set its own: the HTML pages
of app/main.py send `PAGE_CSP` (scripts, styles and connections from this origin only: no
inline script or style anywhere in app/web), the demo store page `demo_csp` (which may also
reach the demo shop's sign-in) and a `strict-origin-when-cross-origin` referrer, and the API
reference pages (app/api_docs.py) `docs_csp(nonce)`. No page may be framed
(`frame-ancestors 'none'`): the widget draws in the host page's own document (a Shadow DOM, no
iframe), so nothing here needs a frame.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The demo page and the consoles: everything from this origin; favicons are data: URLs.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
# JSON, scripts, styles and files: nothing of theirs runs as a page.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DEMO_REFERRER = "strict-origin-when-cross-origin"
# The demo store page also signs visitors in through the demo shop (scripts/demo_orders_api.py),
# by default on this host's port 8077.
DEMO_SHOP_SOURCES = "http://*:8077 https://*:8077"
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=(), "
    "hid=(), midi=(), display-capture=(), publickey-credentials-get=()"
)
DEFAULTS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", API_CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Permissions-Policy", PERMISSIONS_POLICY),
)


def demo_csp(shop_url: str | None) -> str:
    """`PAGE_CSP` that may also connect to the demo shop (`shop_url`'s origin, else any host's
    port 8077)."""
    if shop_url:
        parts = urlsplit(shop_url)
        sources = f"{parts.scheme}://{parts.netloc}"
    else:
        sources = DEMO_SHOP_SOURCES
    return PAGE_CSP.replace("connect-src 'self'", f"connect-src 'self' {sources}")


def docs_csp(nonce: str) -> str:
    """Swagger UI and ReDoc (bundled, served from this origin): their one inline start-up script
    runs by `nonce`; their styles are injected at run time, so inline styles are allowed on
    these pages only; ReDoc renders in a blob: worker."""
    return (
        f"default-src 'none'; script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
        "connect-src 'self'; worker-src 'self' blob:; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )


class SecurityHeaders:
    """Adds each of `DEFAULTS` to an HTTP response that does not set it itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in DEFAULTS:
                    if name not in headers:
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
