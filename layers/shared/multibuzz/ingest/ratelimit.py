"""Per-API-key rate limit: an in-memory token bucket.

The buckets live in the events function's memory, so the limit holds per Lambda
execution environment (per local process), not across the fleet: N warm
instances admit up to N times the limit. That is the intended first line of
defence against a runaway client; API Gateway throttling caps the total.
One request costs one token, whatever the number of events it carries.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """``limit_per_minute`` requests per key, refilled continuously, bursting up to the full minute."""

    def __init__(self, now: Callable[[], float] = time.monotonic, max_keys: int = 10_000) -> None:
        self._now = now
        self._buckets: dict[tuple[str, int], _Bucket] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def take(self, key: str, limit_per_minute: int) -> float:
        """Take a token for ``key``. Returns 0.0 when allowed, else the seconds until a token is free."""
        rate = limit_per_minute / 60.0
        now = self._now()
        with self._lock:
            bucket = self._buckets.get((key, limit_per_minute))
            if bucket is None:
                if len(self._buckets) >= self._max_keys:
                    self._buckets.clear()  # bounded memory; a reset only ever admits more
                bucket = self._buckets[(key, limit_per_minute)] = _Bucket(float(limit_per_minute), now)
            bucket.tokens = min(float(limit_per_minute), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate


def retry_after_header(wait_seconds: float) -> int:
    """Whole seconds for ``Retry-After`` (never 0 when a wait is needed)."""
    return max(1, math.ceil(wait_seconds))


buckets = TokenBuckets()
