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
        self._ints: list[int] = []

    def take(self, count: int) -> bytes:
        with self._lock:
            if self._offset + count > len(self._buffer):
                self._buffer, self._offset = os.urandom(_POOL_SIZE), 0
            chunk = self._buffer[self._offset : self._offset + count]
            self._offset += count
            return chunk

    def take_int80(self) -> int:
        """80 random bits as an int, from a list refilled 400 at a time (``list.pop`` needs no lock)."""
        try:
            return self._ints.pop()
        except IndexError:
            data = os.urandom(10 * 400)
            ints = [int.from_bytes(data[i : i + 10], "big") for i in range(0, len(data), 10)]
            value = ints.pop()
            self._ints = ints
            return value

    def forget(self) -> None:
        """After ``fork``: a child must never hand out the parent's random bytes."""
        self._lock = threading.Lock()
        self._buffer, self._offset = b"", 0
        self._ints = []


_pool = _RandomPool()
os.register_at_fork(after_in_child=_pool.forget)


def random_bytes(count: int) -> bytes:
    """Cryptographically random bytes (from ``os.urandom``), cheap to call often."""
    return _pool.take(count)


_LOW78 = (1 << 78) - 1
_head_cache: tuple[int, str] = (-1, "")  # (millis, its 9 leading digits); swapped whole, so thread-safe


def encode_ulid(millis: int, randomness: bytes | int) -> str:
    """48 bits of milliseconds then 80 random bits (bytes or an int), as RFC 4648 base32 would lay them
    out (left-aligned: the 128 bits then two zero bits), in Crockford's digits.

    The first 9 digits hold only time bits (the top 45), so they are kept for the current millisecond;
    the 10th mixes the last 3 time bits with the first 2 random ones; the other 16 are random."""
    global _head_cache
    millis &= 0xFFFFFFFFFFFF
    r = randomness if isinstance(randomness, int) else int.from_bytes(randomness, "big")
    cached_millis, head = _head_cache
    if cached_millis != millis:
        t = millis >> 3  # 45 bits: 9 digits
        head = _CROCKFORD[t >> 40] + "".join(_PAIRS[(t >> shift) & 1023] for shift in (30, 20, 10, 0))
        _head_cache = (millis, head)
    w = (r & _LOW78) << 2  # 80 bits: 8 pairs
    p = _PAIRS  # unrolled: this runs for every click id on the redirect's hot path
    return (
        head + _CROCKFORD[((millis & 7) << 2) | (r >> 78)]
        + p[w >> 70] + p[(w >> 60) & 1023] + p[(w >> 50) & 1023] + p[(w >> 40) & 1023]
        + p[(w >> 30) & 1023] + p[(w >> 20) & 1023] + p[(w >> 10) & 1023] + p[w & 1023]
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
        return f"{prefix}_{encode_ulid(millis, _pool.take_int80())}"


class SequentialIds:
    """Deterministic ids for tests: ``evt_000001``, ``evt_000002``…"""

    def __init__(self) -> None:
        self._n = 0

    def new(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n:026d}"
