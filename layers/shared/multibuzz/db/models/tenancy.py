"""Tenancy: accounts (tenants), users, memberships with roles, API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from multibuzz.db.base import Base, Id, JSONType, UTCDateTime


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | deactivated
    # Per-account knobs: session_timeout_minutes, lookback_days, require_signature, ip_privacy, domains…
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    #: IANA time zone that days and hours are counted in (reports, daily aggregates), and the ISO 4217
    #: currency that revenue and spend are reported in.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def is_active(self) -> bool:
        return self.status == "active"


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Bumped when the password changes: access tokens carry it, so older tokens stop working at once.
    token_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Membership(Base):
    """A user's role in an account: owner, member or influencer (read-own)."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "account_id"),)

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    # Set for role=influencer: the influencer whose data this user may read.
    influencer_id: Mapped[str | None] = mapped_column(Id(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKey(Base):
    """An advertiser backend's credential. Only a SHA-256 digest of the secret is stored."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_account_id_revoked_at", "account_id", "revoked_at"),)

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="")
    environment: Mapped[str] = mapped_column(String(10))  # live | test
    secret_digest: Mapped[str] = mapped_column(String(64), unique=True)
    display_hint: Mapped[str] = mapped_column(String(32))  # e.g. "sk_live_…a1b2"
    # The HMAC signing secret must be readable to verify signatures: stored encrypted (Fernet).
    signing_secret_encrypted: Mapped[str | None] = mapped_column(String(512), nullable=True)
    created_by: Mapped[str | None] = mapped_column(Id(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    rotated_to_id: Mapped[str | None] = mapped_column(Id(), nullable=True)
    # Space-separated scopes: "ingest" (the default) and/or "read" (SDK reads of a conversion).
    scopes: Mapped[str] = mapped_column(String(100), default="ingest", server_default="ingest")

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class Invitation(Base):
    """An owner's offer of a role in an account; nobody becomes a member until the invitee accepts.

    Only a SHA-256 digest of the one-time token is stored; the token expires and is used once.
    """

    __tablename__ = "invitations"
    __table_args__ = (Index("ix_invitations_account_id_created_at", "account_id", "created_at"),)

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))  # lower-cased
    role: Mapped[str] = mapped_column(String(20))
    influencer_id: Mapped[str | None] = mapped_column(Id(), nullable=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[str | None] = mapped_column(Id(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    accepted_by: Mapped[str | None] = mapped_column(Id(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    def status_at(self, now: datetime) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        return "pending" if self.expires_at > now else "expired"


class PasswordReset(Base):
    """A one-time, expiring password-reset token (stored as a SHA-256 digest)."""

    __tablename__ = "password_resets"

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LoginThrottle(Base):
    """Failed-login counters shared by every API instance: one row per e-mail digest or per IP."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)  # "email:<sha256>" | "ip:<address>"
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
