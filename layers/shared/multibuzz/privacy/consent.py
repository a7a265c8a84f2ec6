"""Consent: what an ingested hit may keep when the visitor has not given analytics consent (pure).

A hit carries ``consent: {"analytics": bool}``. Without analytics consent — ``false``, or absent while
the account sets ``require_consent`` — the hit is stored without IP, user agent, user id or the
visitor's cookie id: its visitor is a cookieless one, keyed by an HMAC of (account, the sent id, UTC
day), so hits of one visit still make one session but nothing links days, devices or a known user.
The key is the server secret: the raw cookie id cannot be recovered from the stored key.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

ANONYMOUS_PREFIX = "anon-"


def lacks_consent(analytics: bool | None, require_consent: bool) -> bool:
    """True when the hit must be stored without identifying data."""
    return analytics is False or (analytics is None and require_consent)


def anonymous_visitor_key(secret: bytes, account_id: str, sent_id: str, at: datetime) -> str:
    """The cookieless visitor of a consent-less hit: one per (sent visitor/user id, UTC day)."""
    message = f"{account_id}\x1f{sent_id}\x1f{at.date().isoformat()}".encode()
    return ANONYMOUS_PREFIX + hmac.new(secret, message, hashlib.sha256).hexdigest()[:48]
