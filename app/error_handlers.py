"""The one JSON shape of every 4xx/5xx: `{"error": {"code", "message", ...}}`, rendered from
domain errors (`app/errors.py`), request validation, routing errors and database failures (a
full disk or read-only data named as such, with the path: `app/storage.py`). A 405 carries
`Allow` with every method the path serves (over all the routes matching it), as RFC 9110 asks."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.errors import AppError
from app.storage import StorageUnavailable, classify

log = logging.getLogger(__name__)


def _error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **details}}


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


def _describe(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    where = _field_path(error.get("loc", ()))
    if kind == "json_invalid":
        reason = error.get("ctx", {}).get("error", "malformed JSON")
        return f"request body is not valid JSON ({reason}); send a JSON object"
    if kind == "missing":
        return f"{where}: required field is missing"
    if kind == "string_unicode":  # a string with a lone surrogate, refused by a length check
        return (
            f"{where}: contains a lone surrogate (an unpaired \\uD800-\\uDFFF escape), which is "
            "not valid Unicode text; send UTF-8 text"
        )
    return f"{where}: {error.get('msg', 'invalid value')}"


UNREADABLE_BODY = "There was an error parsing the body"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app serves at this request's path (asked of each route,
    included routers too, with the method swapped in)."""
    routes = request.app.router.routes
    return [
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


def install_error_handlers(app: FastAPI) -> None:
    """Render AppError, validation errors and routing errors in one JSON shape."""

    @app.exception_handler(AppError)
    async def _app_error(_request: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(
            _error_body(exc.code, exc.message, **exc.details),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        messages = [_describe(e) for e in errors]
        fields = [
            {"field": _field_path(e.get("loc", ())), "message": m}
            for e, m in zip(errors, messages, strict=True)
        ]
        return JSONResponse(
            _error_body("validation_error", "; ".join(messages), fields=fields),
            status_code=422,
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(SQLAlchemyTimeoutError)
    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        runtime = getattr(request.app.state, "runtime", None)
        path = getattr(getattr(runtime, "db", None), "path", None) or "the database"
        problem = classify(exc, path=path)
        if problem is not None:  # disk full or read-only: say so, as Database.run does
            if runtime is not None:
                runtime.db.storage.failed(problem)  # logged once, shown on /readyz
            return await _app_error(request, StorageUnavailable(problem))
        log.error("database unavailable: %s", type(exc).__name__)
        return JSONResponse(
            _error_body("unavailable", "the database is busy or unreachable; retry shortly"),
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(SQLAlchemyError)
    async def _database_error(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("database error")
        return JSONResponse(
            _error_body("internal_error", "the request could not be stored; nothing was saved"),
            status_code=500,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            404: "not_found",
            405: "method_not_allowed",
        }.get(exc.status_code, "http_error")
        headers = dict(getattr(exc, "headers", None) or {})
        message = str(exc.detail)
        if exc.status_code == 400 and message == UNREADABLE_BODY:
            # FastAPI's answer to a body its JSON reader cannot decode (e.g. not UTF-8).
            code = "bad_request"
            message = "the request body could not be read; send JSON encoded as UTF-8"
        if exc.status_code == 405:
            allowed = allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            message = f"{request.method} is not served at this path; it serves {', '.join(allowed)}"
        return JSONResponse(
            _error_body(code, message), status_code=exc.status_code, headers=headers or None
        )
