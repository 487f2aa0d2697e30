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


async def bearer_token(request: Request) -> str:
    """The bearer secret of the `Authorization` header, or 401 saying what to send."""
    header = request.headers.get("authorization")
    challenge = {"WWW-Authenticate": "Bearer"}
    if not header:
        raise Unauthorized(
            "missing Authorization header; send 'Authorization: Bearer <token>' with the token "
            "returned when the conversation was created",
            headers=challenge,
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "malformed Authorization header; expected 'Bearer <token>'", headers=challenge
        )
    return token.strip()


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
BearerToken = Annotated[str, Depends(bearer_token)]
