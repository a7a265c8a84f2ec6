"""API keys: ``sk_live_…`` / ``sk_test_…``, shown once, stored as a SHA-256 digest.

The keys carry 256 bits of randomness, so a fast digest is the right storage
(as for GitHub or Stripe tokens): lookups are by digest, so no secret is ever
compared character by character.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

KEY_PATTERN = re.compile(r"^sk_(live|test)_[A-Za-z0-9]{32,64}$")
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True, slots=True)
class NewKey:
    plaintext: str
    digest: str
    hint: str
    environment: str


def digest_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def key_hint(plaintext: str) -> str:
    prefix = plaintext[: plaintext.index("_", 3) + 1] if plaintext.count("_") >= 2 else "sk_"
    return f"{prefix}…{plaintext[-4:]}"


def generate_key(environment: str = "live") -> NewKey:
    if environment not in ("live", "test"):
        raise ValueError("environment must be 'live' or 'test'")
    body = "".join(secrets.choice(_ALNUM) for _ in range(40))
    plaintext = f"sk_{environment}_{body}"
    return NewKey(plaintext, digest_key(plaintext), key_hint(plaintext), environment)


def key_from_plaintext(plaintext: str) -> NewKey:
    """For a key fixed by configuration (the demo key): validates its shape."""
    match = KEY_PATTERN.match(plaintext)
    if not match:
        raise ValueError("API key must look like sk_live_<32-64 letters/digits> or sk_test_<…>")
    return NewKey(plaintext, digest_key(plaintext), key_hint(plaintext), match.group(1))


def looks_like_key(candidate: str) -> bool:
    return bool(KEY_PATTERN.match(candidate))


def generate_signing_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)
