"""A process-wide TTL cache of code → link snapshot, with negative caching of unknown codes.

TTLs: a known link is reused for ``POSITIVE_TTL`` (30 s), so a link disabled in the management API
stops redirecting within 30 s on every warm Lambda (the issue asks for 60 s); an unknown code is
remembered for ``NEGATIVE_TTL`` (10 s), which keeps a flood of made-up codes off the database while a
just-created link works within seconds. Expired entries are kept as *stale* values so a redirect can
still be served from them when the database is unreachable. The size is bounded (oldest evicted).
Thread-safe enough for the local gateway's threads: dict operations are atomic under the GIL and a
race only costs one extra lookup.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

POSITIVE_TTL = 30.0
NEGATIVE_TTL = 10.0
MAX_ENTRIES = 50_000

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class LinkSnapshot:
    """What the redirect needs to know about a link, its campaign and its account."""

    link_id: str
    account_id: str
    campaign_id: str
    influencer_id: str
    code: str
    destination_url: str
    forward_utms: bool
    active: bool  # link status
    campaign_status: str
    starts_at: datetime | None
    ends_at: datetime | None
    fallback_url: str | None
    account_active: bool
    ip_privacy: str
    salt: bytes  # per-account key for IP hashes and visitor fingerprints


class TtlCache(Generic[V]):
    def __init__(
        self,
        *,
        positive_ttl: float = POSITIVE_TTL,
        negative_ttl: float = NEGATIVE_TTL,
        max_entries: int = MAX_ENTRIES,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.positive_ttl = positive_ttl
        self.negative_ttl = negative_ttl
        self.max_entries = max_entries
        self._now = now
        self._entries: dict[str, tuple[float, V | None]] = {}

    def get(self, key: str) -> tuple[bool, V | None]:
        """(fresh hit?, value). A fresh hit with value None is a cached "unknown"."""
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self._now():
            return False, None
        return True, entry[1]

    def stale(self, key: str) -> V | None:
        entry = self._entries.get(key)
        return None if entry is None else entry[1]

    def put(self, key: str, value: V | None) -> None:
        ttl = self.positive_ttl if value is not None else self.negative_ttl
        if key not in self._entries and len(self._entries) >= self.max_entries:
            self._evict()
        self._entries[key] = (self._now() + ttl, value)

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _evict(self) -> None:
        now = self._now()
        expired = [key for key, (expires, _) in self._entries.items() if expires <= now]
        for key in expired:
            self._entries.pop(key, None)
        while len(self._entries) >= self.max_entries:  # insertion order: oldest first
            self._entries.pop(next(iter(self._entries)), None)


link_cache: TtlCache[LinkSnapshot] = TtlCache()
