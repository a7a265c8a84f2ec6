"""HMAC-SHA256 request signatures over the raw body, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    """Accepts ``<hex>`` or ``sha256=<hex>``."""
    if not signature or not signature.isascii():
        return False  # a hex digest is ASCII; hmac.compare_digest raises on other text
    candidate = signature.strip()
    if candidate.startswith("sha256="):
        candidate = candidate[len("sha256=") :]
    return hmac.compare_digest(sign(secret, body), candidate.lower())
