"""A LambdaContext with the attributes handlers and Powertools read."""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass, field

_INVOCATIONS = itertools.count(1)
_PREFIX = f"{os.getpid():08x}-{int(time.time()):08x}"


def _request_id() -> str:
    """Unique per invocation in this process run; a counter, not a random UUID (the redirect is hot)."""
    return f"{_PREFIX}-{next(_INVOCATIONS):016x}"


@dataclass
class LocalLambdaContext:
    function_name: str
    memory_limit_in_mb: int = 1024
    timeout_seconds: int = 30
    aws_request_id: str = field(default_factory=_request_id)
    function_version: str = "$LATEST"
    log_group_name: str = "local"
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:local:000000000000:function:multibuzz-{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))
