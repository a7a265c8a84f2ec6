"""Influencer side: campaigns, influencers, assignments, coupons, tracking links and their clicks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from multibuzz.db.base import Base, Id, UTCDateTime


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        UniqueConstraint("account_id", "slug"),
        Index("ix_campaigns_account_id_status", "account_id", "status"),
    )

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="active")  # draft | active | paused | archived
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # What may earn credit for this campaign: links_and_coupons | links | coupons.
    attribution_source: Mapped[str] = mapped_column(String(30), default="links_and_coupons")
    default_destination_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Where links go outside the live dates (or while paused/archived); none = the link's own destination.
    fallback_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Influencer(Base):
    __tablename__ = "influencers"
    __table_args__ = (
        UniqueConstraint("account_id", "handle"),
        Index("ix_influencers_account_id_status", "account_id", "status"),
    )

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    handle: Mapped[str] = mapped_column(String(100))  # lower-cased; utm_source of its links
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | inactive
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CampaignInfluencer(Base):
    __tablename__ = "campaign_influencers"
    __table_args__ = (
        UniqueConstraint("campaign_id", "influencer_id"),
        Index("ix_campaign_influencers_account_id_influencer_id", "account_id", "influencer_id"),
    )

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    influencer_id: Mapped[str] = mapped_column(ForeignKey("influencers.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Coupon(Base):
    """A coupon code. Uniqueness is case-insensitive per account (``code_normalized``), in the database."""

    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("account_id", "code_normalized"),
        Index("ix_coupons_account_id_influencer_id", "account_id", "influencer_id"),
        Index("ix_coupons_account_id_campaign_id", "account_id", "campaign_id"),
    )

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    campaign_id: Mapped[str | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"), nullable=True)
    influencer_id: Mapped[str | None] = mapped_column(
        ForeignKey("influencers.id", ondelete="SET NULL"), nullable=True
    )  # None: a generic coupon
    code: Mapped[str] = mapped_column(String(64))  # as entered
    code_normalized: Mapped[str] = mapped_column(String(64))  # lower-cased
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | invalidated
    replaced_by_id: Mapped[str | None] = mapped_column(Id(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    invalidated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TrackingLink(Base):
    """A short link /r/{code}. ``code`` is unique across accounts: the URL carries no account."""

    __tablename__ = "tracking_links"
    __table_args__ = (
        Index("ix_tracking_links_account_id_influencer_id", "account_id", "influencer_id"),
        Index("ix_tracking_links_account_id_campaign_id", "account_id", "campaign_id"),
    )

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    influencer_id: Mapped[str] = mapped_column(ForeignKey("influencers.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32), unique=True)  # lower case
    destination_url: Mapped[str] = mapped_column(Text)  # with the default UTMs applied
    forward_utms: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | disabled
    replaced_by_id: Mapped[str | None] = mapped_column(Id(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Click(Base):
    """One raw click (or bot hit) on a tracking link. ``id`` is minted by the redirect: redelivery is a no-op."""

    __tablename__ = "clicks"
    __table_args__ = (
        Index("ix_clicks_account_id_link_id_occurred_at", "account_id", "link_id", "occurred_at"),
        Index("ix_clicks_account_id_influencer_id_occurred_at", "account_id", "influencer_id", "occurred_at"),
        Index("ix_clicks_account_id_campaign_id_occurred_at", "account_id", "campaign_id", "occurred_at"),
    )

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    link_id: Mapped[str] = mapped_column(ForeignKey("tracking_links.id", ondelete="CASCADE"))
    campaign_id: Mapped[str] = mapped_column(Id())
    influencer_id: Mapped[str] = mapped_column(Id())
    code: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    method: Mapped[str] = mapped_column(String(8), default="GET")
    user_agent: Mapped[str | None] = mapped_column(String(512), nullable=True)
    device_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
    browser: Mapped[str | None] = mapped_column(String(50), nullable=True)
    browser_version: Mapped[str | None] = mapped_column(String(30), nullable=True)
    os: Mapped[str | None] = mapped_column(String(50), nullable=True)
    os_version: Mapped[str | None] = mapped_column(String(30), nullable=True)
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    bot_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)  # head | preview | prefetch | crawler
    referrer: Mapped[str | None] = mapped_column(Text, nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)  # truncated, hashed or raw per account
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    city: Mapped[str | None] = mapped_column(String(100), nullable=True)
    destination_url: Mapped[str | None] = mapped_column(Text, nullable=True)  # where the visitor was sent
    # Outside the campaign's live dates (or campaign not active)? Then sent to the fallback URL if it has one.
    outside_live_window: Mapped[bool] = mapped_column(Boolean, default=False)
    used_fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    visitor_hash: Mapped[str] = mapped_column(String(64))  # keyed hash of (IP, user agent)
    unique_click: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ClickDedup(Base):
    """First human click per (link, visitor hash, clock hour): the row that makes a click "unique".

    The primary key settles races between concurrent consumers; fixed hour buckets make the count of
    unique clicks independent of delivery order.
    """

    __tablename__ = "click_dedup"

    link_id: Mapped[str] = mapped_column(ForeignKey("tracking_links.id", ondelete="CASCADE"), primary_key=True)
    visitor_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    click_id: Mapped[str] = mapped_column(Id())
