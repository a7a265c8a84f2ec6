"""Web sessions and CSRF, pure functions over cookie values.

The session cookie carries the same signed access token the JSON API issues (``Tenancy.login``), so a page
and the API resolve the same actor; it is HttpOnly, SameSite=Lax, and Secure outside local/test.
CSRF: a random per-browser seed in its own HttpOnly cookie; every form (and htmx post) carries
``HMAC(secret, seed)`` in a ``csrf_token`` field or an ``X-CSRF-Token`` header. A cross-site page can
neither read the seed nor compute the token. The seed is replaced at login (no fixation).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

SESSION_COOKIE = "mbz_session"
CSRF_COOKIE = "mbz_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
HOME_PATH = "/app"


def new_seed() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(secret: str, seed: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{seed}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret: str, seed: str | None, sent: str | None) -> bool:
    if not seed or not sent:
        return False
    return hmac.compare_digest(csrf_token(secret, seed), sent)


def safe_next(value: str | None, default: str = HOME_PATH) -> str:
    """Only a same-site relative path into the app: no scheme, no host, no ``//`` or backslash tricks."""
    if not value or any(ord(ch) < 0x20 or ch == "\\" for ch in value):
        return default
    if not value.startswith("/") or value.startswith("//"):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    if not (parts.path == HOME_PATH or parts.path.startswith(HOME_PATH + "/")):
        return default
    if parts.path.startswith("/app/login") or parts.path.startswith("/app/logout"):
        return default
    return value


def cookie_secure(stage: str) -> bool:
    return stage not in ("local", "test")
