"""Per-API-key rate limit: a token bucket per key, ``limit_per_minute`` requests refilled continuously,
bursting up to the full minute. One request costs one token, whatever the number of events it carries.

``TokenBuckets`` keeps the buckets in process memory (one instance's view). ``SharedTokenBuckets`` — what
the events function uses — keeps each key's bucket in the database (``api_key_rate_buckets``), so the limit
holds across every Lambda instance and local process, without a database round trip per request:

- an instance *leases* a block of tokens from the key's row (refill, then take up to ``block`` tokens; a
  compare-and-set on ``version``) and spends them from memory; only when its block is spent does it go
  back to the database. ``block`` is half a second's worth, 1/120 of the per-minute limit (1 for small
  limits, at most 10,000), so at the default 6,000/min an instance asks the database once per 50 requests;
- bound: tokens leave the shared bucket only through leases, so whatever the number of instances, the
  requests admitted for a key in any span of T seconds are at most ``limit + T * limit / 60`` — the bound
  of a single bucket — with no over-admission. The cost is the other way: tokens leased by an instance
  that then goes idle or away (at most ``block`` each) are spent later or never (under-admission);
- a refused key is remembered for up to a second (or the wait, if shorter), so a client hammering past
  its limit does not turn into a database query per request.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


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


def lease_block(limit_per_minute: int) -> int:
    """Tokens an instance leases at once: half a second's worth (1/120 of the minute's limit), 1..10,000."""
    return max(1, min(10_000, limit_per_minute // 120))


class SharedTokenBuckets:
    """The token buckets of every instance, held in the database and leased in blocks (see module docstring)."""

    def __init__(
        self,
        engine: Any,
        *,
        now: Callable[[], float] = time.time,
        block: Callable[[int], int] = lease_block,
        refusal_memory: float = 1.0,
    ) -> None:
        self._engine = engine
        self._now = now
        self._block = block
        self._refusal_memory = refusal_memory
        self._local: dict[tuple[str, int], int] = {}  # leased tokens not spent yet
        self._refused: dict[tuple[str, int], tuple[float, float]] = {}  # (ask again after, retry at)
        self._lock = threading.Lock()

    def take(self, key: str, limit_per_minute: int) -> float:
        """Take a token for ``key``. Returns 0.0 when allowed, else the seconds until a token is free."""
        slot = (key, limit_per_minute)
        with self._lock:
            held = self._local.get(slot, 0)
            if held > 0:
                self._local[slot] = held - 1
                return 0.0
            now = self._now()
            refused = self._refused.get(slot)
            if refused is not None and now < refused[0]:
                return max(0.001, refused[1] - now)
            if len(self._local) >= 10_000 or len(self._refused) >= 10_000:  # bounded memory; only under-admits
                self._local.clear()
                self._refused.clear()
            granted, wait = self._lease(key, limit_per_minute, self._block(limit_per_minute))
            if granted > 0:
                self._refused.pop(slot, None)
                self._local[slot] = granted - 1
                return 0.0
            self._refused[slot] = (now + min(wait, self._refusal_memory), now + wait)
            return wait

    def _lease(self, key: str, limit: int, want: int) -> tuple[int, float]:
        """Refill the key's shared bucket and take up to ``want`` tokens: (taken, seconds until one is free)."""
        from sqlalchemy import Table, insert, select, update
        from sqlalchemy.exc import IntegrityError

        from multibuzz.db.models.ratelimit import RateBucket

        table = RateBucket.__table__
        assert isinstance(table, Table)
        rate = limit / 60.0
        where = (table.c.api_key_id == key, table.c.per_minute == limit)
        for _ in range(20):  # compare-and-set; another instance may win a round
            now = self._now()
            try:
                with self._engine.begin() as conn:
                    row = conn.execute(
                        select(table.c.tokens, table.c.updated_at, table.c.version).where(*where)
                    ).first()
                    if row is None:
                        take = min(want, limit)
                        conn.execute(
                            insert(table).values(
                                api_key_id=key, per_minute=limit, tokens=float(limit - take), updated_at=now, version=1
                            )
                        )
                        return take, 0.0
                    tokens = min(float(limit), row.tokens + max(0.0, now - row.updated_at) * rate)
                    if tokens < 1.0:
                        return 0, (1.0 - tokens) / rate
                    take = min(want, int(tokens))
                    changed = conn.execute(
                        update(table)
                        .where(*where, table.c.version == row.version)
                        .values(tokens=tokens - take, updated_at=max(now, row.updated_at), version=row.version + 1)
                    )
                    if changed.rowcount == 1:
                        return take, 0.0
            except IntegrityError:  # another instance created the row first: read it again
                continue
        return 0, 1.0  # lost every round to other instances: ask the client to come back shortly
