"""Which routes answer other origins (CORS): only what the widget calls from a host site.

The widget runs on the pages of the sites in `SWITCHBOARD_CORS_ORIGINS` and calls the
customer routes: `/widget.js`, `POST /api/v1/conversations` and `/api/v1/conversations/{id}`
with its `messages`, `csat` and `contact` (bearer tokens in headers, never cookies, so no
credentials mode). Those get Starlette's CORS handling for the configured origins; every
other path (sign-in, the agent and admin APIs, analytics, the knowledge base, health, docs)
gets no CORS header at all, so a browser on another origin can neither preflight nor read
them. `GET /api/v1/conversations/{id}` also serves staff (a staff token widens it): the route
marks such a response with `mark_staff_only(request)`, and it goes out without CORS headers.

WebSockets are outside CORS: the streams authenticate with a bearer token (in a header or the
first frame), never a cookie, so another site's page gains nothing by opening one.
"""

from __future__ import annotations

import re

from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CUSTOMER_PATHS = re.compile(
    r"^/widget\.js$|^/api/v1/conversations(?:/[^/]+(?:/(?:messages|csat|contact))?)?/?$"
)
_STAFF_ONLY = "staff_only_response"


def mark_staff_only(request: Request) -> None:
    """Send this response (on a customer path) without CORS headers: it is for staff."""
    setattr(request.state, _STAFF_ONLY, True)


class CustomerCors:
    """CORS for `CUSTOMER_PATHS`, from `origins`; nothing for any other path."""

    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_credentials=False,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Retry-After", "Idempotent-Replayed", "Server-Timing"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not CUSTOMER_PATHS.match(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def send_unless_staff(message: Message) -> None:
            if message["type"] == "http.response.start" and scope.get("state", {}).get(_STAFF_ONLY):
                message["headers"] = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if not name.lower().startswith(b"access-control-")
                ]
            await send(message)

        await self.cors(scope, receive, send_unless_staff)
