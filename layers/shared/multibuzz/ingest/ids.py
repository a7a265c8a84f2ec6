"""Ids minted on the request path: deterministic when the client gives us a natural key.

A retry of a request that carries the same client id (``event_id``, an
``Idempotency-Key`` header, a ``user_id``) gets the same Multibuzz id back, so the
response is stable and the consumer's primary keys make the retry a no-op.
"""

from __future__ import annotations

import base64
import hashlib

from multibuzz.ids import IdGenerator

_BODY_LENGTH = 26  # as long as a ULID body
_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "abcdefghjkmnpqrstvwxyz0123456789")


def digest(*parts: str) -> str:
    """26 lower-case base32 characters of sha256 over the parts (unambiguous joining)."""
    raw = hashlib.sha256("\x1f".join(parts).encode()).digest()
    # base32 encodes each 5 bytes on their own: the first 26 characters come from the first 20 bytes.
    return base64.b32encode(raw[:20]).decode().translate(_CROCKFORD)[:_BODY_LENGTH]


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
