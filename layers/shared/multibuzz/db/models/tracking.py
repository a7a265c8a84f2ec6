"""Tracking: identities, visitors, sessions (visits), events, and the consumer inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from multibuzz.db.base import Base, Id, JSONType, UTCDateTime


class Identity(Base):
    """A known user (the advertiser's user_id), linked to one or more visitors by identify."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("account_id", "user_id"),)

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(255))
    traits: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Visitor(Base):
    """A browser/device: the ``_mbuzz_vid`` cookie value the client sends as visitor_id."""

    __tablename__ = "visitors"
    __table_args__ = (
        UniqueConstraint("account_id", "visitor_key"),
        Index("ix_visitors_account_id_identity_id", "account_id", "identity_id"),
    )

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    visitor_key: Mapped[str] = mapped_column(String(128))
    identity_id: Mapped[str | None] = mapped_column(ForeignKey("identities.id", ondelete="SET NULL"), nullable=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When the consumer last wrote this row (it also tells the upsert's "inserted" from "updated" apart).
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class VisitSession(Base):
    """A visit. Its first hit's UTMs, referrer and landing URL are kept; later hits never overwrite them."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_account_id_visitor_id_last_activity_at", "account_id", "visitor_id", "last_activity_at"),
        Index("ix_sessions_account_id_started_at", "account_id", "started_at"),
        Index("ix_sessions_account_id_channel_started_at", "account_id", "channel", "started_at"),
    )

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    visitor_id: Mapped[str] = mapped_column(ForeignKey("visitors.id", ondelete="CASCADE"))
    client_session_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime())
    landing_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    referrer: Mapped[str | None] = mapped_column(Text, nullable=True)
    referrer_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    utm_source: Mapped[str | None] = mapped_column(String(255), nullable=True)
    utm_medium: Mapped[str | None] = mapped_column(String(255), nullable=True)
    utm_campaign: Mapped[str | None] = mapped_column(String(255), nullable=True)
    utm_content: Mapped[str | None] = mapped_column(String(255), nullable=True)
    utm_term: Mapped[str | None] = mapped_column(String(255), nullable=True)
    click_id_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
    click_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    ref_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Digest of the marketing touch (utm source/medium/campaign, paid click id): a different one splits sessions.
    campaign_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    channel: Mapped[str] = mapped_column(String(30))
    page_view_count: Mapped[int] = mapped_column(Integer, default=0)
    device_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
    browser: Mapped[str | None] = mapped_column(String(50), nullable=True)
    os: Mapped[str | None] = mapped_column(String(50), nullable=True)
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)  # truncated or hashed per account setting
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    city: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Event(Base):
    """Something a visitor did. ``id`` is minted at ingestion (deterministic for client-supplied ids)."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("account_id", "client_event_id"),
        Index("ix_events_account_id_occurred_at", "account_id", "occurred_at"),
        Index("ix_events_account_id_event_type_occurred_at", "account_id", "event_type", "occurred_at"),
        Index("ix_events_account_id_funnel_funnel_position", "account_id", "funnel", "funnel_position"),
        Index("ix_events_account_id_visitor_id_occurred_at", "account_id", "visitor_id", "occurred_at"),
    )

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    visitor_id: Mapped[str | None] = mapped_column(ForeignKey("visitors.id", ondelete="CASCADE"), nullable=True)
    session_id: Mapped[str | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"), nullable=True)
    identity_id: Mapped[str | None] = mapped_column(ForeignKey("identities.id", ondelete="SET NULL"), nullable=True)
    event_type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    funnel: Mapped[str | None] = mapped_column(String(100), nullable=True)
    funnel_step: Mapped[str | None] = mapped_column(String(100), nullable=True)
    funnel_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    client_event_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # The API request that sent it (API Gateway request id): one id finds a request's whole path.
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class ProcessedMessage(Base):
    """The consumer's inbox: a message whose natural key is here has been applied (idempotency)."""

    __tablename__ = "processed_messages"

    id: Mapped[str] = mapped_column(String(160), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(50))
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime())
