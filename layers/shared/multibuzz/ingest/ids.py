"""Ids minted on the request path: deterministic when the client gives us a natural key.

A retry of a request that carries the same client id (``event_id``, an
``Idempotency-Key`` header, a ``user_id``) gets the same Multibuzz id back, so the
response is stable and the consumer's primary keys make the retry a no-op.
"""

from __future__ import annotations

import hashlib

from multibuzz.ids import IdGenerator

# 26 characters (as long as a ULID body) of base32 over the digest, in Crockford's lower-case alphabet, two
# characters (10 bits) per lookup: the same text as ``base64.b32encode(raw)`` translated from the RFC 4648
# alphabet and cut to 26, at a third of its cost (it runs twice per ingested event).
_ALPHABET = "abcdefghjkmnpqrstvwxyz0123456789"
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]


def digest(*parts: str) -> str:
    """26 lower-case base32 characters of sha256 over the parts (unambiguous joining)."""
    raw = hashlib.sha256("\x1f".join(parts).encode()).digest()
    bits = int.from_bytes(raw[:17], "big") >> 6  # the first 130 bits: 26 characters of 5 bits
    pairs = _PAIRS
    return "".join([pairs[(bits >> shift) & 1023] for shift in (120, 110, 100, 90, 80, 70, 60, 50, 40, 30, 20, 10, 0)])


def derived_id(prefix: str, *parts: str) -> str:
    return f"{prefix}_{digest(*parts)}"


def event_id(ids: IdGenerator, account_id: str, client_event_id: str | None) -> str:
    """``evt_…``: derived from (account, client id) when given, otherwise a fresh time-ordered id."""
    if client_event_id:
        return derived_id("evt", account_id, "event", client_event_id)
    return ids.new("evt")


def identity_id(account_id: str, user_id: str) -> str:
    """``idt_…`` for (account, user_id): the same on every call, so identify answers without the database."""
    return derived_id("idt", account_id, "identity", user_id)


def visitor_row_id(account_id: str, visitor_key: str) -> str:
    """``vis_…`` for (account, visitor key): concurrent creators of one visitor agree on its id."""
    return derived_id("vis", account_id, "visitor", visitor_key)
