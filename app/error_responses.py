"""The error responses routes declare in the OpenAPI schema, in the one JSON shape that
`app/error_handlers.py` renders: `responses=errors(404, 409)` documents those statuses with
the `ErrorResponse` model (and the headers that come with them: `WWW-Authenticate` on 401,
`Retry-After` on 429 and 503).

Routers declare what every one of their routes can answer (`APIRouter(responses=...)`, e.g.
`STAFF` for staff routes); a route adds its own (`responses=errors(404, 409)`). Plain data, no
web framework: FastAPI reads these dicts.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    """What went wrong: a stable `code`, a `message` that says what to fix, and details."""

    model_config = ConfigDict(extra="allow")

    code: str = Field(description="Stable machine-readable code, e.g. `not_found`.")
    message: str = Field(description="What went wrong and what to do about it.")


class ErrorResponse(BaseModel):
    """The body of every 4xx/5xx answer."""

    error: ErrorDetail


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


RETRY_AFTER = {"Retry-After": _header("Seconds to wait before trying again.")}

DESCRIPTIONS: dict[int, str] = {
    400: "The request cannot be carried out as sent; the message says why.",
    401: "Missing or invalid credentials; the message says what to send.",
    403: "The credentials do not open this resource.",
    404: "The resource does not exist.",
    409: "The request conflicts with what is stored; the message says what.",
    413: "The body or a field is over its limit.",
    415: "The body's media type is not one this route reads.",
    422: "Invalid input; each problem is listed in `error.fields`.",
    429: "Too many requests; `Retry-After` says when to try again.",
    503: "The service is starting or a dependency is unavailable; retry shortly.",
    507: "The disk holding the data is full; the message names the path.",
}
HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": _header("`Bearer`: the scheme to authenticate with.")},
    429: RETRY_AFTER,
    503: RETRY_AFTER,
}


def errors(
    *statuses: int, described: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries documenting `statuses` with the error model, and those of
    `described` with the route's own description of when they happen."""
    responses: dict[int | str, dict[str, Any]] = {}
    own = described or {}
    for status in (*statuses, *own):
        entry: dict[str, Any] = {
            "model": ErrorResponse,
            "description": own.get(status, DESCRIPTIONS[status]),
        }
        if status in HEADERS:
            entry["headers"] = HEADERS[status]
        responses[status] = entry
    return responses


# Routes of a customer's conversation token: no token (401), another conversation's (403).
# A body that cannot be read (400: not UTF-8), is too large (413) or invalid (422) is refused
# before anything else.
# A disk that fills up is named (507) on every route.
CUSTOMER = errors(400, 401, 403, 404, 413, 422, 503, 507)
# Staff routes: no staff token (401), or an admin who must first enrol a second factor (403).
STAFF = errors(400, 401, 403, 413, 422, 503, 507)
ADMIN = errors(400, 401, 403, 413, 422, 503, 507)
