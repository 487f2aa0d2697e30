"""FastAPI dependencies for the long-lived parts every domain's routes use, as short
`Annotated` aliases: the database, the settings, the broker of live events, the encoder, the
customer's bearer token, the limits on abuse and the client's address.

Each part is read from the application's state, where the app factory put the running service
(`app.runtime.Runtime`); this module names the parts' own types only, so a route depends on
exactly what it uses. Domain packages declare their own parts the same way (`app/kb/deps.py`,
`app/bot/deps.py`, ...) with `provide`. The getters take an `HTTPConnection`, so WebSocket
routes use them too: while the service is starting an HTTP request gets 503 and a socket is
closed with 1013 (try again later).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, WebSocketException
from starlette.requests import HTTPConnection

from app.config import Settings
from app.db import Database
from app.errors import ServiceUnavailable, Unauthorized
from app.nlp.batcher import MicroBatcher
from app.nlp.embedder import Embedder
from app.ratelimit.addresses import ClientAddresses
from app.ratelimit.limiter import RateLimits
from app.realtime.broker import Broker

TRY_AGAIN_LATER = 1013


def provide(name: str) -> Callable[[HTTPConnection], Awaitable[Any]]:
    """A dependency giving the running service's part `name` (a coroutine function: FastAPI
    would run a plain function in its thread pool, a thread hop on every request)."""

    async def get(connection: HTTPConnection) -> Any:
        running = getattr(connection.app.state, "runtime", None)
        if running is None:
            if connection.scope["type"] == "websocket":
                raise WebSocketException(TRY_AGAIN_LATER, "the service is still starting")
            raise ServiceUnavailable("the service is still starting")
        return getattr(running, name)

    get.__name__ = f"get_{name}"
    return get


CHALLENGE = {"WWW-Authenticate": "Bearer"}


def read_bearer(connection: HTTPConnection, *, how_to_get_one: str) -> str:
    """The bearer secret of the `Authorization` header, or 401 saying what to send and, when
    it is missing, `how_to_get_one`."""
    header = connection.headers.get("authorization")
    if not header:
        raise Unauthorized(f"missing Authorization header; {how_to_get_one}", headers=CHALLENGE)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "malformed Authorization header; expected 'Bearer <token>'", headers=CHALLENGE
        )
    return token.strip()


async def bearer_token(connection: HTTPConnection) -> str:
    """A customer's conversation token from the `Authorization` header (401 otherwise)."""
    return read_bearer(
        connection,
        how_to_get_one="send 'Authorization: Bearer <token>' with the token returned when the "
        "conversation was created",
    )


async def client_address(
    connection: HTTPConnection,
    addresses: Annotated[ClientAddresses, Depends(provide("addresses"))],
) -> str:
    """The client's address: the TCP peer, or what a trusted proxy forwarded (one function for
    every limit keyed by address: `app.ratelimit.addresses`)."""
    return addresses.of(connection)


DbDep = Annotated[Database, Depends(provide("db"))]
SettingsDep = Annotated[Settings, Depends(provide("settings"))]
BrokerDep = Annotated[Broker, Depends(provide("broker"))]
EmbedderDep = Annotated[Embedder, Depends(provide("embedder"))]
BatcherDep = Annotated[MicroBatcher, Depends(provide("batcher"))]
BearerToken = Annotated[str, Depends(bearer_token)]
RateLimitsDep = Annotated[RateLimits, Depends(provide("rate_limits"))]
ClientAddress = Annotated[str, Depends(client_address)]
