"""Identifiers: a type prefix plus a time-ordered, random, URL-safe body (ULID-like).

Time ordering keeps primary-key inserts append-mostly on InnoDB and makes ids
usable as pagination cursors; 80 random bits make them unguessable.
"""

from __future__ import annotations

import os
from typing import Protocol

from multibuzz.clock import Clock, SystemClock

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


class IdGenerator(Protocol):
    def new(self, prefix: str) -> str: ...


class UlidGenerator:
    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()

    def new(self, prefix: str) -> str:
        millis = int(self._clock.now().timestamp() * 1000)
        rand = int.from_bytes(os.urandom(10), "big")
        return f"{prefix}_{_encode(millis, 10)}{_encode(rand, 16)}"


class SequentialIds:
    """Deterministic ids for tests: ``evt_000001``, ``evt_000002``…"""

    def __init__(self) -> None:
        self._n = 0

    def new(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n:026d}"
