"""Commerce: Shopify shops and orders, Meta ad accounts and insights, integrations, syncs, daily aggregates.

Integrations are the connection of an account to a third party (a Shopify store, a Meta ad account);
their tokens live encrypted in ``integration_secrets``. Raw tables keep what the third party sent; fact
tables hold the typed rows that reports and aggregates read. Aggregates are rebuilt per touched day in
the account's time zone, so every table here is account scoped.
"""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from multibuzz.db.base import Base, Id, JSONType, UTCDateTime

Money = Numeric(18, 4)
Ratio = Numeric(18, 6)
# Surrogate keys of the high-volume tables: auto-increment integers (cheap appends, compact indexes).
RowId = BigInteger().with_variant(Integer, "sqlite")


def _account_fk() -> Mapped[str]:
    return mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)


def _integration_fk() -> Mapped[str]:
    return mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))


class Integration(Base):
    """One connection of an account to Shopify (a store) or Meta (an ad account)."""

    __tablename__ = "integrations"
    __table_args__ = (
        UniqueConstraint("account_id", "type", "external_id"),
        Index("ix_integrations_type_external_id", "type", "external_id"),
    )

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = _account_fk()
    type: Mapped[str] = mapped_column(String(20))  # shopify | meta
    status: Mapped[str] = mapped_column(String(20), default="connected")  # connected | disconnected | error
    external_id: Mapped[str] = mapped_column(String(255))  # shop domain / act_<id>
    display_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    connect_method: Mapped[str | None] = mapped_column(String(20), nullable=True)  # oauth | token
    scopes: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IntegrationSecret(Base):
    """A token or secret of an integration, Fernet-encrypted with the deployment's encryption key."""

    __tablename__ = "integration_secrets"
    __table_args__ = (UniqueConstraint("integration_id", "kind"),)

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = _account_fk()
    integration_id: Mapped[str] = _integration_fk()
    kind: Mapped[str] = mapped_column(String(40))  # access_token | ...
    ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Shop(Base):
    __tablename__ = "shops"
    __table_args__ = (
        UniqueConstraint("account_id", "shop_domain"),
        Index("ix_shops_shop_domain", "shop_domain"),
    )

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = _account_fk()
    integration_id: Mapped[str] = _integration_fk()
    shop_domain: Mapped[str] = mapped_column(String(255))  # example.myshopify.com
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AdAccount(Base):
    __tablename__ = "ad_accounts"
    __table_args__ = (UniqueConstraint("account_id", "platform_account_id"),)

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = _account_fk()
    integration_id: Mapped[str] = _integration_fk()
    platform: Mapped[str] = mapped_column(String(20), default="meta")
    platform_account_id: Mapped[str] = mapped_column(String(64))  # act_<id>
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SyncRun(Base):
    """One attempt of a sync job; ``error_message`` is written for a human (shown in sync-status)."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        Index("ix_sync_runs_integration_id_type_started_at", "integration_id", "type", "started_at"),
        Index("ix_sync_runs_account_id_started_at", "account_id", "started_at"),
    )

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = _account_fk()
    integration_id: Mapped[str] = _integration_fk()
    type: Mapped[str] = mapped_column(String(40))  # shopify_7d_fill | shopify_fresh | meta_7d_fill | meta_fresh
    trigger: Mapped[str] = mapped_column(String(20))  # schedule | manual | connect
    status: Mapped[str] = mapped_column(String(20), default="running")  # running | succeeded | failed
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Up to when the source data is known complete after this run (e.g. the fresh cursor it reached).
    data_fresh_to: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class SyncCursor(Base):
    """Where a sync resumes; advanced only after the rows it covers are committed."""

    __tablename__ = "sync_cursors"
    __table_args__ = (UniqueConstraint("integration_id", "name"),)

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = _account_fk()
    integration_id: Mapped[str] = _integration_fk()
    name: Mapped[str] = mapped_column(String(60))
    value: Mapped[str | None] = mapped_column(String(255), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ShopifyWebhookRaw(Base):
    """Every accepted Shopify webhook delivery, once per ``X-Shopify-Webhook-Id``."""

    __tablename__ = "shopify_webhooks_raw"
    __table_args__ = (
        UniqueConstraint("account_id", "webhook_id"),
        Index("ix_shopify_webhooks_raw_account_id_received_at", "account_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = _account_fk()
    integration_id: Mapped[str] = _integration_fk()
    webhook_id: Mapped[str] = mapped_column(String(100))
    topic: Mapped[str] = mapped_column(String(60))
    shop_domain: Mapped[str] = mapped_column(String(255))
    api_version: Mapped[str | None] = mapped_column(String(20), nullable=True)
    triggered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="received")  # received | processed | failed
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class ShopifyOrderRaw(Base):
    """The newest payload seen of each order (webhook or sync); an older ``updated_at`` never overwrites."""

    __tablename__ = "shopify_orders_raw"
    __table_args__ = (
        UniqueConstraint("integration_id", "shopify_order_id"),
        Index("ix_shopify_orders_raw_account_id_order_updated_at", "account_id", "order_updated_at"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = _account_fk()
    integration_id: Mapped[str] = _integration_fk()
    shopify_order_id: Mapped[str] = mapped_column(String(64))
    order_updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(20))  # webhook | sync
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class FactOrder(Base):
    """One typed row per Shopify order: the money, the statuses, the times and the attribution inputs."""

    __tablename__ = "fact_orders"
    __table_args__ = (
        UniqueConstraint("integration_id", "shopify_order_id"),
        Index("ix_fact_orders_account_id_order_created_at", "account_id", "order_created_at"),
        Index("ix_fact_orders_account_id_order_updated_at", "account_id", "order_updated_at"),
        Index("ix_fact_orders_account_id_processed_at", "account_id", "processed_at"),
        Index("ix_fact_orders_account_id_order_date", "account_id", "order_date"),
        Index("ix_fact_orders_account_id_customer_ref", "account_id", "customer_ref"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = _account_fk()
    integration_id: Mapped[str] = _integration_fk()
    shopify_order_id: Mapped[str] = mapped_column(String(64))
    order_name: Mapped[str | None] = mapped_column(String(64), nullable=True)  # "#1001"
    currency: Mapped[str] = mapped_column(String(3))
    gross: Mapped[Decimal] = mapped_column(Money)  # subtotal before discounts
    discounts: Mapped[Decimal] = mapped_column(Money)
    net: Mapped[Decimal] = mapped_column(Money)  # after discounts and refunds
    refunds: Mapped[Decimal] = mapped_column(Money)
    total_price: Mapped[Decimal] = mapped_column(Money)
    total_tax: Mapped[Decimal] = mapped_column(Money)
    shipping: Mapped[Decimal] = mapped_column(Money)
    financial_status: Mapped[str | None] = mapped_column(String(30), nullable=True)
    fulfillment_status: Mapped[str | None] = mapped_column(String(30), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    order_created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    order_updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    order_date: Mapped[dt.date] = mapped_column(Date)  # processed (else created) day in the account's zone
    landing_site: Mapped[str | None] = mapped_column(Text, nullable=True)
    referring_site: Mapped[str | None] = mapped_column(Text, nullable=True)
    source_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    discount_codes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    note_attributes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    cart_attributes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    customer_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)  # keyed hash / customer id
    shopify_customer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    email_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    visitor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # from _mbuzz_vid
    conversion_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MetaInsightRaw(Base):
    """Meta insights rows as returned by the Graph API (``level=ad``, ``time_increment=1``)."""

    __tablename__ = "meta_insights_raw"
    __table_args__ = (
        UniqueConstraint("integration_id", "ad_id", "date", "level"),
        Index("ix_meta_insights_raw_account_id_date", "account_id", "date"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = _account_fk()
    integration_id: Mapped[str] = _integration_fk()
    ad_id: Mapped[str] = mapped_column(String(64))
    date: Mapped[dt.date] = mapped_column(Date)
    level: Mapped[str] = mapped_column(String(20))  # ad | adset | campaign | account
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class FactMetaDaily(Base):
    __tablename__ = "fact_meta_daily"
    __table_args__ = (
        UniqueConstraint("integration_id", "ad_id", "date", "level"),
        Index("ix_fact_meta_daily_account_id_date", "account_id", "date"),
        Index("ix_fact_meta_daily_account_id_campaign_id_date", "account_id", "campaign_id", "date"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = _account_fk()
    integration_id: Mapped[str] = _integration_fk()
    ad_account_id: Mapped[str] = mapped_column(String(64))
    date: Mapped[dt.date] = mapped_column(Date)
    level: Mapped[str] = mapped_column(String(20))
    ad_id: Mapped[str] = mapped_column(String(64))
    ad_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    adset_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    adset_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    campaign_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    campaign_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    currency: Mapped[str] = mapped_column(String(3))
    spend: Mapped[Decimal] = mapped_column(Money)
    impressions: Mapped[int] = mapped_column(BigInteger, default=0)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    purchases: Mapped[Decimal] = mapped_column(Money)
    purchase_value: Mapped[Decimal] = mapped_column(Money)
    effective_status: Mapped[str | None] = mapped_column(String(30), nullable=True)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DailyShopifyMetrics(Base):
    """Per account, store and day (account time zone): rebuilt from ``fact_orders`` for touched days."""

    __tablename__ = "daily_shopify_metrics"
    __table_args__ = (
        UniqueConstraint("account_id", "integration_id", "date"),
        Index("ix_daily_shopify_metrics_account_id_date", "account_id", "date"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = _account_fk()
    integration_id: Mapped[str] = _integration_fk()
    date: Mapped[dt.date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    orders: Mapped[int] = mapped_column(Integer, default=0)
    cancelled_orders: Mapped[int] = mapped_column(Integer, default=0)
    gross: Mapped[Decimal] = mapped_column(Money)
    discounts: Mapped[Decimal] = mapped_column(Money)
    refunds: Mapped[Decimal] = mapped_column(Money)
    revenue_net: Mapped[Decimal] = mapped_column(Money)
    aov: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DailyMetaMetrics(Base):
    """Per account, ad account and day: rebuilt from ``fact_meta_daily`` for touched days."""

    __tablename__ = "daily_meta_metrics"
    __table_args__ = (
        UniqueConstraint("account_id", "integration_id", "date"),
        Index("ix_daily_meta_metrics_account_id_date", "account_id", "date"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = _account_fk()
    integration_id: Mapped[str] = _integration_fk()
    date: Mapped[dt.date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    spend: Mapped[Decimal] = mapped_column(Money)
    impressions: Mapped[int] = mapped_column(BigInteger, default=0)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    purchases: Mapped[Decimal] = mapped_column(Money)
    purchase_value: Mapped[Decimal] = mapped_column(Money)
    roas: Mapped[Decimal | None] = mapped_column(Ratio, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DailySummary(Base):
    """Per account and day: revenue (all stores) beside spend (all ad accounts), ROAS and MER."""

    __tablename__ = "daily_summary"
    __table_args__ = (UniqueConstraint("account_id", "date"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = _account_fk()
    date: Mapped[dt.date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    revenue_net: Mapped[Decimal] = mapped_column(Money)
    refunds: Mapped[Decimal] = mapped_column(Money)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    aov: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    spend: Mapped[Decimal] = mapped_column(Money)
    purchases: Mapped[Decimal] = mapped_column(Money)
    purchase_value: Mapped[Decimal] = mapped_column(Money)
    roas: Mapped[Decimal | None] = mapped_column(Ratio, nullable=True)
    mer: Mapped[Decimal | None] = mapped_column(Ratio, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LatestKpis(Base):
    """Per account and period (e.g. ``last_7d``, ``last_30d``): the KPI cards, precomputed."""

    __tablename__ = "latest_kpis"
    __table_args__ = (UniqueConstraint("account_id", "period"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = _account_fk()
    period: Mapped[str] = mapped_column(String(20))
    date_from: Mapped[dt.date] = mapped_column(Date)
    date_to: Mapped[dt.date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    revenue_net: Mapped[Decimal] = mapped_column(Money)
    refunds: Mapped[Decimal] = mapped_column(Money)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    aov: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    spend: Mapped[Decimal] = mapped_column(Money)
    purchases: Mapped[Decimal] = mapped_column(Money)
    purchase_value: Mapped[Decimal] = mapped_column(Money)
    roas: Mapped[Decimal | None] = mapped_column(Ratio, nullable=True)
    mer: Mapped[Decimal | None] = mapped_column(Ratio, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
