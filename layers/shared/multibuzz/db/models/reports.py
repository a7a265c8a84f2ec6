"""Report rollups (daily, and hourly for the last days) and the buckets that say which are stale.

``report_rollups`` is a narrow table: one row per (account, grain, local day, local hour, dimension,
dimension value, metric, sub key) with a decimal value. Reports sum it; they never scan raw rows.
``report_buckets`` holds one row per (account, local day): ``generation`` is bumped by every consumer
transaction that touches raw rows of that day, ``built_generation`` is the generation the rollups of
that day were last rebuilt from (stale while they differ).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Integer, Numeric, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from multibuzz.db.base import Base, UTCDateTime


class ReportRollup(Base):
    __tablename__ = "report_rollups"
    # Clustered by what reports ask for (account, grain, dimension, metric, day range): a report is one
    # range scan of the primary key. Rebuilds delete a day through the (account_id, day) index.
    __table_args__ = (
        PrimaryKeyConstraint(
            "account_id",
            "grain",
            "dimension",
            "metric",
            "day",
            "hour",
            "dim_value",
            "sub_key",
            name="pk_report_rollups",
        ),
        Index("ix_report_rollups_account_id_day", "account_id", "day"),
    )

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    grain: Mapped[str] = mapped_column(String(4))  # day | hour
    day: Mapped[date] = mapped_column(Date)  # local day in the account's zone
    hour: Mapped[int] = mapped_column(Integer)  # local hour (0 for the day grain)
    dimension: Mapped[str] = mapped_column(String(12))  # all|channel|campaign|influencer|link|pair
    dim_value: Mapped[str] = mapped_column(String(90))  # '' = none / not applicable
    metric: Mapped[str] = mapped_column(String(20))
    sub_key: Mapped[str] = mapped_column(String(200))  # event type, model, funnel step; or ''
    value: Mapped[Decimal] = mapped_column(Numeric(20, 4))


class ReportBucket(Base):
    __tablename__ = "report_buckets"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    built_generation: Mapped[int] = mapped_column(Integer, default=0)
    built_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CommissionRule(Base):
    """A campaign's commission (``influencer_id`` '') or an assignment's override (``influencer_id`` set).

    ``kind`` ``rate``: ``value`` is a fraction of the influencer-credited revenue (0.1 = 10 %);
    ``fixed``: ``value`` is an amount in the account's currency per influencer-credited conversion.
    """

    __tablename__ = "commission_rules"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    influencer_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
