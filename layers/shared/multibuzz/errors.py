"""Errors the service layer raises; the HTTP layer maps each to a status and a JSON body."""

from __future__ import annotations


class MultibuzzError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInputError(MultibuzzError):
    status = 422
    code = "validation_error"


class AuthenticationError(MultibuzzError):
    status = 401
    code = "unauthorized"


class PermissionDeniedError(MultibuzzError):
    status = 403
    code = "forbidden"


class NotFoundError(MultibuzzError):
    status = 404
    code = "not_found"


class ConflictError(MultibuzzError):
    status = 409
    code = "conflict"


class GoneError(MultibuzzError):
    status = 410
    code = "gone"


class RateLimitedError(MultibuzzError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailableError(MultibuzzError):
    """503 with ``Retry-After`` (seconds): a dependency (queue, database) is down; nothing was accepted."""

    status = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after
