"""Conversions, their attribution credits (one row per conversion, version, model and touch), model fits."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from multibuzz.db.base import Base, Id, JSONType, UTCDateTime

Money = Numeric(18, 4)
Fraction = Numeric(12, 8)


class Conversion(Base):
    __tablename__ = "conversions"
    __table_args__ = (
        UniqueConstraint("account_id", "idempotency_key"),
        Index("ix_conversions_account_id_occurred_at", "account_id", "occurred_at"),
        Index("ix_conversions_account_id_identity_id_occurred_at", "account_id", "identity_id", "occurred_at"),
        Index("ix_conversions_account_id_visitor_id_occurred_at", "account_id", "visitor_id", "occurred_at"),
    )

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    conversion_type: Mapped[str] = mapped_column(String(64))
    visitor_id: Mapped[str | None] = mapped_column(ForeignKey("visitors.id", ondelete="SET NULL"), nullable=True)
    identity_id: Mapped[str | None] = mapped_column(ForeignKey("identities.id", ondelete="SET NULL"), nullable=True)
    event_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revenue: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    is_acquisition: Mapped[bool] = mapped_column(Boolean, default=False)
    inherit_acquisition: Mapped[bool] = mapped_column(Boolean, default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(160), nullable=True)
    lookback_days: Mapped[int | None] = mapped_column(Integer, nullable=True)  # per-request override
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | attributed | failed
    attribution_version: Mapped[int] = mapped_column(Integer, default=0)
    attributed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sessions_analyzed: Mapped[int] = mapped_column(Integer, default=0)
    # Per-model notes for the current version: fallbacks, lookback used, inherited-from, model fit versions.
    attribution_meta: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Influencer waterfall result (coupon → ref_code → landing URL), if any.
    influencer_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    influencer_campaign_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    influencer_link_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    influencer_coupon_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    influencer_method: Mapped[str | None] = mapped_column(String(20), nullable=True)
    influencer_confidence: Mapped[Decimal | None] = mapped_column(Numeric(4, 3), nullable=True)
    influencer_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The API request that recorded it (API Gateway request id; for a purchase event, the event's request).
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class AttributionCredit(Base):
    __tablename__ = "attribution_credits"
    __table_args__ = (
        UniqueConstraint("conversion_id", "version", "model", "position"),
        Index("ix_attribution_credits_account_id_model_channel", "account_id", "model", "channel"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    conversion_id: Mapped[str] = mapped_column(ForeignKey("conversions.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(30))
    position: Mapped[int] = mapped_column(Integer)
    session_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    channel: Mapped[str] = mapped_column(String(30))
    utm_source: Mapped[str | None] = mapped_column(String(255), nullable=True)
    utm_medium: Mapped[str | None] = mapped_column(String(255), nullable=True)
    utm_campaign: Mapped[str | None] = mapped_column(String(255), nullable=True)
    touch_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    credit: Mapped[Decimal] = mapped_column(Fraction)
    revenue_credit: Mapped[Decimal] = mapped_column(Money)


class ModelFit(Base):
    """A versioned fit of a data-driven model (markov, shapley) for one account."""

    __tablename__ = "model_fits"
    __table_args__ = (UniqueConstraint("account_id", "model", "version"),)

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(30))
    version: Mapped[int] = mapped_column(Integer)
    fitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    window_days: Mapped[int] = mapped_column(Integer)
    journeys: Mapped[int] = mapped_column(Integer)
    conversions: Mapped[int] = mapped_column(Integer)
    weights: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
