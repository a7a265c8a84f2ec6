"""A LambdaContext with the attributes handlers and Powertools read."""

from __future__ import annotations

import itertools
import os
import time

_INVOCATIONS = itertools.count(1)
_PREFIX = f"{os.getpid():08x}-{int(time.time()):08x}"


def _request_id() -> str:
    """Unique per invocation in this process run; a counter, not a random UUID (the redirect is hot)."""
    return f"{_PREFIX}-{next(_INVOCATIONS):016x}"


class LocalLambdaContext:
    """Made for every invocation (the redirect's hot path too), so plain slots and a lazy request id."""

    __slots__ = ("_request_id", "_started", "function_name", "memory_limit_in_mb", "timeout_seconds")
    function_version = "$LATEST"
    log_group_name = "local"
    log_stream_name = "local"

    def __init__(self, function_name: str, memory_limit_in_mb: int = 1024, timeout_seconds: int = 30) -> None:
        self.function_name = function_name
        self.memory_limit_in_mb = memory_limit_in_mb
        self.timeout_seconds = timeout_seconds
        self._request_id: str | None = None
        self._started = time.monotonic()

    @property
    def aws_request_id(self) -> str:
        if self._request_id is None:
            self._request_id = _request_id()
        return self._request_id

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:local:000000000000:function:multibuzz-{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))
