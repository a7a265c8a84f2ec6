"""Daily aggregates, rebuilt idempotently for the days a sync touched (days of the account's time zone).

- ``daily_meta_metrics``: per ad account and day, the sums of ``fact_meta_daily`` (``level=ad``);
- ``daily_summary``: per day, revenue from ``daily_shopify_metrics`` (every store; filled by the Shopify
  sync) beside spend from ``daily_meta_metrics`` (every ad account), with ROAS and MER;
- ``latest_kpis``: the KPI cards for ``today``, ``last_7d`` and ``last_30d`` (ending today, inclusive),
  summed from ``daily_summary``.

A rebuild deletes the rows of the range and writes them again from their sources in the caller's
transaction, so running it twice, or after a partial run, gives the same rows. Ratios are computed from
sums (never averaged): ROAS = purchase value / spend, MER = net revenue / spend, AOV = net revenue /
orders; a ratio over zero is null.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, case, delete, func, insert, select, type_coerce
from sqlalchemy.orm import Session

from multibuzz.db.models import Account
from multibuzz.db.models.commerce import (
    DailyMetaMetrics,
    DailyShopifyMetrics,
    DailySummary,
    FactMetaDaily,
    FactOrder,
    LatestKpis,
    Money,
)

ZERO = Decimal(0)
MONEY_Q = Decimal("0.0001")
RATIO_Q = Decimal("0.000001")
KPI_PERIODS = {"today": 1, "last_7d": 7, "last_30d": 30}


def ratio(numerator: Decimal, denominator: Decimal | int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATIO_Q, ROUND_HALF_UP)


def money_ratio(numerator: Decimal, denominator: Decimal | int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(MONEY_Q, ROUND_HALF_UP)


def money_sum(column: Any) -> ColumnElement[Decimal]:
    """SUM of a money column read back as an exact Decimal on SQLite too (its SUM is a float)."""
    return type_coerce(func.coalesce(func.sum(column), 0), Money)


def _dec(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(value).quantize(MONEY_Q)


@dataclass(frozen=True)
class Totals:
    """Sums over days, and the ratios computed from them."""

    revenue_net: Decimal = ZERO
    refunds: Decimal = ZERO
    orders: int = 0
    spend: Decimal = ZERO
    purchases: Decimal = ZERO
    purchase_value: Decimal = ZERO

    @property
    def aov(self) -> Decimal | None:
        return money_ratio(self.revenue_net, self.orders)

    @property
    def roas(self) -> Decimal | None:
        return ratio(self.purchase_value, self.spend)

    @property
    def mer(self) -> Decimal | None:
        return ratio(self.revenue_net, self.spend)

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.revenue_net + other.revenue_net,
            self.refunds + other.refunds,
            self.orders + other.orders,
            self.spend + other.spend,
            self.purchases + other.purchases,
            self.purchase_value + other.purchase_value,
        )


def account_locale(session: Session, account_id: str) -> tuple[str, str]:
    """(IANA time zone, ISO currency) of the account."""
    row = session.execute(select(Account.timezone, Account.currency).where(Account.id == account_id)).one()
    return str(row.timezone or "UTC"), str(row.currency or "USD")


def rebuild_meta_days(session: Session, account_id: str, since: dt.date, until: dt.date, now: datetime) -> int:
    """``daily_meta_metrics`` for [since, until] from ``fact_meta_daily``; returns the rows written."""
    session.execute(
        delete(DailyMetaMetrics).where(
            DailyMetaMetrics.account_id == account_id, DailyMetaMetrics.date.between(since, until)
        )
    )
    f = FactMetaDaily
    rows = session.execute(
        select(
            f.integration_id,
            f.date,
            f.currency,
            money_sum(f.spend).label("spend"),
            func.coalesce(func.sum(f.impressions), 0).label("impressions"),
            func.coalesce(func.sum(f.clicks), 0).label("clicks"),
            money_sum(f.purchases).label("purchases"),
            money_sum(f.purchase_value).label("purchase_value"),
        )
        .where(f.account_id == account_id, f.level == "ad", f.date.between(since, until))
        .group_by(f.integration_id, f.date, f.currency)
    ).all()
    objects = [
        DailyMetaMetrics(
            account_id=account_id,
            integration_id=r.integration_id,
            date=r.date,
            currency=r.currency,
            spend=_dec(r.spend),
            impressions=int(r.impressions),
            clicks=int(r.clicks),
            purchases=_dec(r.purchases),
            purchase_value=_dec(r.purchase_value),
            roas=ratio(_dec(r.purchase_value), _dec(r.spend)),
            updated_at=now,
        )
        for r in rows
    ]
    session.add_all(objects)
    session.flush()
    return len(objects)


def day_totals(session: Session, account_id: str, since: dt.date, until: dt.date) -> dict[dt.date, Totals]:
    """Per day: Shopify revenue (every store) and Meta spend (every ad account)."""
    out: dict[dt.date, Totals] = defaultdict(Totals)
    s = DailyShopifyMetrics
    for r in session.execute(
        select(
            s.date,
            money_sum(s.revenue_net).label("revenue_net"),
            money_sum(s.refunds).label("refunds"),
            func.coalesce(func.sum(s.orders), 0).label("orders"),
        )
        .where(s.account_id == account_id, s.date.between(since, until))
        .group_by(s.date)
    ):
        out[r.date] += Totals(revenue_net=_dec(r.revenue_net), refunds=_dec(r.refunds), orders=int(r.orders))
    m = DailyMetaMetrics
    for q in session.execute(
        select(
            m.date,
            money_sum(m.spend).label("spend"),
            money_sum(m.purchases).label("purchases"),
            money_sum(m.purchase_value).label("purchase_value"),
        )
        .where(m.account_id == account_id, m.date.between(since, until))
        .group_by(m.date)
    ):
        out[q.date] += Totals(spend=_dec(q.spend), purchases=_dec(q.purchases), purchase_value=_dec(q.purchase_value))
    return dict(out)


def rebuild_summary_days(session: Session, account_id: str, since: dt.date, until: dt.date, now: datetime) -> int:
    _zone, currency = account_locale(session, account_id)
    session.execute(
        delete(DailySummary).where(DailySummary.account_id == account_id, DailySummary.date.between(since, until))
    )
    objects = [
        DailySummary(
            account_id=account_id,
            date=day,
            currency=currency,
            revenue_net=t.revenue_net,
            refunds=t.refunds,
            orders=t.orders,
            aov=t.aov,
            spend=t.spend,
            purchases=t.purchases,
            purchase_value=t.purchase_value,
            roas=t.roas,
            mer=t.mer,
            updated_at=now,
        )
        for day, t in sorted(day_totals(session, account_id, since, until).items())
    ]
    session.add_all(objects)
    session.flush()
    return len(objects)


def summary_totals(session: Session, account_id: str, since: dt.date, until: dt.date) -> Totals:
    d = DailySummary
    r = session.execute(
        select(
            money_sum(d.revenue_net).label("revenue_net"),
            money_sum(d.refunds).label("refunds"),
            func.coalesce(func.sum(d.orders), 0).label("orders"),
            money_sum(d.spend).label("spend"),
            money_sum(d.purchases).label("purchases"),
            money_sum(d.purchase_value).label("purchase_value"),
        ).where(and_(d.account_id == account_id, d.date.between(since, until)))
    ).one()
    return Totals(
        _dec(r.revenue_net), _dec(r.refunds), int(r.orders), _dec(r.spend), _dec(r.purchases), _dec(r.purchase_value)
    )


def today_in(zone: str, now: datetime) -> dt.date:
    from zoneinfo import ZoneInfo

    return now.astimezone(ZoneInfo(zone)).date()


def rebuild_latest_kpis(session: Session, account_id: str, now: datetime) -> None:
    zone, currency = account_locale(session, account_id)
    today = today_in(zone, now)
    session.execute(delete(LatestKpis).where(LatestKpis.account_id == account_id))
    for period, days in KPI_PERIODS.items():
        since = today - dt.timedelta(days=days - 1)
        t = summary_totals(session, account_id, since, today)
        session.add(
            LatestKpis(
                account_id=account_id,
                period=period,
                date_from=since,
                date_to=today,
                currency=currency,
                revenue_net=t.revenue_net,
                refunds=t.refunds,
                orders=t.orders,
                aov=t.aov,
                spend=t.spend,
                purchases=t.purchases,
                purchase_value=t.purchase_value,
                roas=t.roas,
                mer=t.mer,
                updated_at=now,
            )
        )
    session.flush()


def rebuild_after_meta(session: Session, account_id: str, since: dt.date, until: dt.date, now: datetime) -> None:
    """After a Meta sync touched [since, until]: per-ad-account days, the summary, the KPI cards."""
    rebuild_meta_days(session, account_id, since, until, now)
    rebuild_summary_days(session, account_id, since, until, now)
    rebuild_latest_kpis(session, account_id, now)


def rebuild_after_shopify(session: Session, account_id: str, since: dt.date, until: dt.date, now: datetime) -> None:
    """After ``daily_shopify_metrics`` changed for [since, until]: the summary and the KPI cards."""
    rebuild_summary_days(session, account_id, since, until, now)
    rebuild_latest_kpis(session, account_id, now)


# -- Shopify: daily_shopify_metrics (per store and day) ------------------------------------------
CENT = Decimal("0.0001")
_CHUNK = 500


def aov(revenue: Decimal, orders: int) -> Decimal | None:
    return (revenue / orders).quantize(CENT, ROUND_HALF_EVEN) if orders else None


def rebuild_shopify_days(
    session: Session, account_id: str, integration_id: str, days: Iterable[dt.date], now: datetime, currency: str
) -> int:
    """Recompute ``daily_shopify_metrics`` of one store for ``days``; returns the rows written."""
    wanted = sorted(set(days))
    written = 0
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        session.execute(
            delete(DailyShopifyMetrics).where(
                DailyShopifyMetrics.integration_id == integration_id, DailyShopifyMetrics.date.in_(chunk)
            )
        )
        live = FactOrder.cancelled_at.is_(None)
        rows = session.execute(
            select(
                FactOrder.order_date,
                func.sum(case((live, 1), else_=0)),
                func.sum(case((live, 0), else_=1)),
                func.coalesce(func.sum(FactOrder.gross), 0),
                func.coalesce(func.sum(FactOrder.discounts), 0),
                func.coalesce(func.sum(FactOrder.refunds), 0),
                func.coalesce(func.sum(FactOrder.net), 0),
            )
            .where(
                FactOrder.integration_id == integration_id,
                FactOrder.order_date.in_(chunk),
                FactOrder.test.is_(False),
            )
            .group_by(FactOrder.order_date)
        ).all()
        values = []
        for day, orders, cancelled, gross, discounts, refunds, net in rows:
            orders, net = int(orders or 0), Decimal(str(net))
            values.append(
                {
                    "account_id": account_id,
                    "integration_id": integration_id,
                    "date": day,
                    "currency": currency,
                    "orders": orders,
                    "cancelled_orders": int(cancelled or 0),
                    "gross": Decimal(str(gross)),
                    "discounts": Decimal(str(discounts)),
                    "refunds": Decimal(str(refunds)),
                    "revenue_net": net,
                    "aov": aov(net, orders),
                    "updated_at": now,
                }
            )
        if values:
            session.connection().execute(insert(cast(Table, DailyShopifyMetrics.__table__)), values)
            written += len(values)
    if wanted:  # the summary and the KPI cards follow the store's days
        rebuild_after_shopify(session, account_id, wanted[0], wanted[-1], now)
    return written
