"""Identifiers: a type prefix plus a time-ordered, random, URL-safe body (ULID-like).

Time ordering keeps primary-key inserts append-mostly on InnoDB and makes ids
usable as pagination cursors; 80 random bits make them unguessable. The body is
48 bits of milliseconds then 80 random bits, in Crockford base32 (26 chars), so
ids sort by creation time.

Random bytes come from ``os.urandom`` through a small buffered pool: one system
call per ~400 ids instead of one per id (the redirect mints ids on its hot path).
"""

from __future__ import annotations

import base64
import os
import threading
from typing import Protocol

from multibuzz.clock import Clock, SystemClock

# RFC 4648 base32 digits → Crockford's, value for value, so the text sorts like the number.
_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789abcdefghjkmnpqrstvwxyz")
_POOL_SIZE = 4096


class _RandomPool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._offset = 0
        self._pid = os.getpid()

    def take(self, count: int) -> bytes:
        with self._lock:
            if self._pid != os.getpid():  # never share random bytes with a forked child
                self._buffer, self._offset, self._pid = b"", 0, os.getpid()
            if self._offset + count > len(self._buffer):
                self._buffer, self._offset = os.urandom(_POOL_SIZE), 0
            chunk = self._buffer[self._offset : self._offset + count]
            self._offset += count
            return chunk


_pool = _RandomPool()


def random_bytes(count: int) -> bytes:
    """Cryptographically random bytes (from ``os.urandom``), cheap to call often."""
    return _pool.take(count)


def encode_ulid(millis: int, randomness: bytes) -> str:
    raw = (millis & 0xFFFFFFFFFFFF).to_bytes(6, "big") + randomness
    return base64.b32encode(raw).translate(_CROCKFORD)[:26].decode()


class IdGenerator(Protocol):
    def new(self, prefix: str) -> str: ...


class UlidGenerator:
    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()

    def new(self, prefix: str) -> str:
        millis = int(self._clock.now().timestamp() * 1000)
        return f"{prefix}_{encode_ulid(millis, random_bytes(10))}"


class SequentialIds:
    """Deterministic ids for tests: ``evt_000001``, ``evt_000002``…"""

    def __init__(self) -> None:
        self._n = 0

    def new(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n:026d}"
