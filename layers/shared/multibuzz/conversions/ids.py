"""Deterministic conversion ids: the same natural key (idempotency key, order id, event id) → the same id."""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache


@lru_cache(maxsize=4096)  # a Shopify page asks twice per order (fact row, then conversion)
def conversion_id_for(account_id: str, key: str) -> str:
    digest = hashlib.sha256(f"{account_id}\x1f{key}".encode()).digest()
    return "conv_" + base64.b32encode(digest).decode().lower().rstrip("=")[:26]
