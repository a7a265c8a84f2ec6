"""Who is acting: resolved once per request, passed to every service call."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("owner", "member", "influencer")
# API-key scopes: "ingest" (every key, the default) writes tracking data; "read" (opt-in) lets an SDK read
# a conversion and its attribution; "privacy" (opt-in) lets the advertiser's backend file erasure and access
# requests. Reports, listings, refits and management are JWT-only.
KEY_SCOPES = ("ingest", "read", "privacy")
DEFAULT_KEY_SCOPES: tuple[str, ...] = ("ingest",)


@dataclass(frozen=True, slots=True)
class Actor:
    """A logged-in person, in the account their token was issued for."""

    user_id: str
    email: str
    is_platform_admin: bool
    account_id: str | None
    role: str | None  # owner | member | influencer | None (admin without membership)
    influencer_id: str | None = None

    @property
    def can_write(self) -> bool:
        return self.role in ("owner", "member") or self.is_platform_admin

    @property
    def is_owner(self) -> bool:
        return self.role == "owner" or self.is_platform_admin


@dataclass(frozen=True, slots=True)
class KeyPrincipal:
    """An advertiser backend authenticated by API key."""

    account_id: str
    api_key_id: str
    environment: str
    account_settings: dict[str, object]
    signing_secret: str | None
    scopes: frozenset[str] = frozenset(DEFAULT_KEY_SCOPES)
