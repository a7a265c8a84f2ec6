"""Exceptions. Tracking calls never raise them into the host app; configuration and read wrappers do."""

from __future__ import annotations

from typing import Any


class MultibuzzError(Exception):
    """Base class of every error this package raises."""


class ConfigurationError(MultibuzzError, ValueError):
    """A setting is missing or malformed (raised by ``configure``, never inside a request)."""


class ApiError(MultibuzzError):
    """Multibuzz answered a read call (attribution, exports) with an error, or could not be reached."""

    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
