"""Domain errors: what a client can act on, each with the HTTP status and code it maps to and a
message that says what to fix. No web framework here: services raise these, and
`app/error_handlers.py` renders them (and every other error) as JSON."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Base of errors a client can act on."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None, **details: Any):
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers


class Unauthorized(AppError):
    """No usable credentials were sent."""

    status_code = 401
    code = "unauthorized"


class Forbidden(AppError):
    """The credentials do not open this resource."""

    status_code = 403
    code = "forbidden"


class NotFound(AppError):
    """The resource does not exist."""

    status_code = 404
    code = "not_found"


class Conflict(AppError):
    """The request conflicts with what is stored."""

    status_code = 409
    code = "conflict"


class TooManyRequests(AppError):
    """Too many attempts in a window; `Retry-After` says when to try again."""

    status_code = 429
    code = "too_many_requests"


class Unprocessable(AppError):
    """The request is well-formed but cannot be carried out as asked."""

    status_code = 422
    code = "unprocessable"


class PayloadTooLarge(AppError):
    """A field or the body is over its limit."""

    status_code = 413
    code = "payload_too_large"


class ServiceUnavailable(AppError):
    """A dependency (model, index, database) is not ready or failed."""

    status_code = 503
    code = "unavailable"


class ConversationNotFound(NotFound):
    """No conversation has this id."""

    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"conversation {conversation_id} does not exist")


class UserNotFound(NotFound):
    """No staff account has this id."""

    def __init__(self, user_id: int) -> None:
        super().__init__(f"user {user_id} does not exist")


class ArticleNotFound(NotFound):
    """No article has this id."""

    def __init__(self, article_id: int) -> None:
        super().__init__(f"article {article_id} does not exist")


class CannedResponseNotFound(NotFound):
    """No canned response has this id."""

    def __init__(self, canned_id: int) -> None:
        super().__init__(f"canned response {canned_id} does not exist")
