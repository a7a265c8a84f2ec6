"""Keyed hashes that stand in for personal identifiers where the clear text is not needed (pure).

An identify's ``traits.email`` is only ever used to match a person (an erasure or access request by
e-mail, Shopify customers at merge), so it is stored as ``traits.email_hash``: HMAC-SHA256 keyed by the
account's salt (``domain.privacy.account_salt``), of the trimmed, lower-cased address.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

EMAIL_HASH_TRAIT = "email_hash"


def email_hash(salt: bytes, email: str) -> str:
    return hmac.new(salt, email.strip().lower().encode(), hashlib.sha256).hexdigest()


def hashed_traits(traits: dict[str, Any], salt: bytes) -> dict[str, Any]:
    """``traits`` with a string ``email`` replaced by its keyed hash (other traits as sent)."""
    email = traits.get("email")
    if not isinstance(email, str) or not email.strip():
        return traits
    out = {k: v for k, v in traits.items() if k != "email"}
    out[EMAIL_HASH_TRAIT] = email_hash(salt, email)
    return out
