"""FastAPI dependencies shared by the routers, as short `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.errors import ServiceUnavailable, Unauthorized
from app.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    """The running service's long-lived parts."""
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise ServiceUnavailable("the service is still starting")
    return runtime


CHALLENGE = {"WWW-Authenticate": "Bearer"}


def read_bearer(request: Request, *, how_to_get_one: str) -> str:
    """The bearer secret of the `Authorization` header, or 401 saying what to send and, when
    it is missing, `how_to_get_one`."""
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized(f"missing Authorization header; {how_to_get_one}", headers=CHALLENGE)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "malformed Authorization header; expected 'Bearer <token>'", headers=CHALLENGE
        )
    return token.strip()


async def bearer_token(request: Request) -> str:
    """A customer's conversation token from the `Authorization` header (401 otherwise)."""
    return read_bearer(
        request,
        how_to_get_one="send 'Authorization: Bearer <token>' with the token returned when the "
        "conversation was created",
    )


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
BearerToken = Annotated[str, Depends(bearer_token)]
