"""Identifiers: a type prefix plus a time-ordered, random, URL-safe body (ULID-like).

Time ordering keeps primary-key inserts append-mostly on InnoDB and makes ids
usable as pagination cursors; 80 random bits make them unguessable. The body is
48 bits of milliseconds then 80 random bits, in Crockford base32 (26 chars), so
ids sort by creation time.

Random bytes come from ``os.urandom`` through a small buffered pool: one system
call per ~400 ids instead of one per id (the redirect mints ids on its hot path).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Protocol

from multibuzz.clock import Clock, SystemClock

# Crockford's base32 (lower case), in value order so the text sorts like the number; encoded two
# digits (10 bits) per table lookup: 13 lookups for the 130 bits of a 26-digit body.
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_PAIRS = tuple(high + low for high in _CROCKFORD for low in _CROCKFORD)
_POOL_SIZE = 4096


class _RandomPool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._offset = 0

    def take(self, count: int) -> bytes:
        with self._lock:
            if self._offset + count > len(self._buffer):
                self._buffer, self._offset = os.urandom(_POOL_SIZE), 0
            chunk = self._buffer[self._offset : self._offset + count]
            self._offset += count
            return chunk

    def forget(self) -> None:
        """After ``fork``: a child must never hand out the parent's random bytes."""
        self._lock = threading.Lock()
        self._buffer, self._offset = b"", 0


_pool = _RandomPool()
os.register_at_fork(after_in_child=_pool.forget)


def random_bytes(count: int) -> bytes:
    """Cryptographically random bytes (from ``os.urandom``), cheap to call often."""
    return _pool.take(count)


def encode_ulid(millis: int, randomness: bytes) -> str:
    """48 bits of milliseconds then the random bytes (80 bits), as RFC 4648 base32 would lay them out
    (left-aligned: the 128 bits then two zero bits), in Crockford's digits."""
    v = (((millis & 0xFFFFFFFFFFFF) << 80) | int.from_bytes(randomness, "big")) << 2
    p = _PAIRS  # unrolled: this runs for every click id on the redirect's hot path
    return (
        p[v >> 120] + p[(v >> 110) & 1023] + p[(v >> 100) & 1023] + p[(v >> 90) & 1023] + p[(v >> 80) & 1023]
        + p[(v >> 70) & 1023] + p[(v >> 60) & 1023] + p[(v >> 50) & 1023] + p[(v >> 40) & 1023]
        + p[(v >> 30) & 1023] + p[(v >> 20) & 1023] + p[(v >> 10) & 1023] + p[v & 1023]
    )  # fmt: skip


class IdGenerator(Protocol):
    def new(self, prefix: str) -> str: ...


class UlidGenerator:
    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._system_time = type(self._clock) is SystemClock  # then skip building a datetime per id

    def new(self, prefix: str) -> str:
        system = self._system_time
        millis = time.time_ns() // 1_000_000 if system else int(self._clock.now().timestamp() * 1000)
        return f"{prefix}_{encode_ulid(millis, random_bytes(10))}"


class SequentialIds:
    """Deterministic ids for tests: ``evt_000001``, ``evt_000002``…"""

    def __init__(self) -> None:
        self._n = 0

    def new(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n:026d}"
