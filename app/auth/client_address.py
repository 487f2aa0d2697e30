"""The network address a sign-in comes from, as the login throttle keys it.

Today this is the socket peer (`request.client.host`); `X-Forwarded-For` is not read here. It
is one function so that a trusted-proxy-aware address can replace it in one place.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection


def client_address(connection: HTTPConnection) -> str:
    """The peer's address, or `unknown` when the server did not say (never empty)."""
    return connection.client.host if connection.client else "unknown"
