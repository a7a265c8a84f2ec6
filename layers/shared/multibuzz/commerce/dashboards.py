"""The three dashboards (home, shopify, meta): KPI cards and a daily series over [from, to], read from the
derived tables (``daily_summary``, ``daily_shopify_metrics``, ``daily_meta_metrics``; for the Meta
campaign table ``fact_meta_daily`` and the attribution credits). Days are the account's time zone;
amounts are in the account's currency and leave here as strings.

Meta campaign ↔ Multibuzz traffic: a credited touch whose landing URL carries ``utm_id`` equal to the
campaign id belongs to it; else one whose ``utm_campaign`` equals the campaign name (case-insensitive).
Attributed ROAS (per model) = the revenue credited to that traffic by conversions of the range / the
campaign's spend; platform ROAS = Meta's own purchase value / spend.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from multibuzz.commerce.aggregates import (
    ZERO,
    Totals,
    account_locale,
    money_ratio,
    money_sum,
    ratio,
    summary_totals,
    today_in,
)
from multibuzz.conversions.views import money
from multibuzz.db.models import AttributionCredit, Conversion, VisitSession
from multibuzz.db.models.commerce import (
    DailyMetaMetrics,
    DailyShopifyMetrics,
    DailySummary,
    FactMetaDaily,
    LatestKpis,
)
from multibuzz.domain.attribution.types import MODELS
from multibuzz.errors import InvalidInputError

MAX_DAYS = 366
DEFAULT_DAYS = 30


def _ratio(value: Decimal | None) -> str | None:
    return None if value is None else format(value.quantize(Decimal("0.0001")), "f")


def date_range(zone: str, now: dt.datetime, since: dt.date | None, until: dt.date | None) -> tuple[dt.date, dt.date]:
    until = until or today_in(zone, now)
    since = since or until - dt.timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        raise InvalidInputError("from must be on or before to", field="from")
    if (until - since).days + 1 > MAX_DAYS:
        raise InvalidInputError(f"the range may span at most {MAX_DAYS} days", field="to")
    return since, until


def _days(since: dt.date, until: dt.date) -> list[dt.date]:
    return [since + dt.timedelta(days=i) for i in range((until - since).days + 1)]


def _header(kind: str, zone: str, currency: str, since: dt.date, until: dt.date) -> dict[str, Any]:
    return {"kind": kind, "from": since, "to": until, "timezone": zone, "currency": currency}


def _summary_card(t: Totals, currency: str) -> dict[str, Any]:
    return {
        "revenue_net": money(t.revenue_net, currency),
        "refunds": money(t.refunds, currency),
        "orders": t.orders,
        "aov": None if t.aov is None else money(t.aov, currency),
        "spend": money(t.spend, currency),
        "purchases": format(t.purchases.normalize(), "f") if t.purchases else "0",
        "purchase_value": money(t.purchase_value, currency),
        "roas": _ratio(t.roas),
        "mer": _ratio(t.mer),
    }


def home(
    session: Session, account_id: str, now: dt.datetime, since: dt.date | None, until: dt.date | None
) -> dict[str, Any]:
    zone, currency = account_locale(session, account_id)
    since, until = date_range(zone, now, since, until)
    rows = {
        r.date: Totals(r.revenue_net, r.refunds, r.orders, r.spend, r.purchases, r.purchase_value)
        for r in session.scalars(
            select(DailySummary).where(DailySummary.account_id == account_id, DailySummary.date.between(since, until))
        )
    }
    series = [{"date": d, **_summary_card(rows.get(d, Totals()), currency)} for d in _days(since, until)]
    totals = summary_totals(session, account_id, since, until)
    latest = {
        k.period: {
            "from": k.date_from,
            "to": k.date_to,
            **_summary_card(
                Totals(k.revenue_net, k.refunds, k.orders, k.spend, k.purchases, k.purchase_value), currency
            ),
        }
        for k in session.scalars(select(LatestKpis).where(LatestKpis.account_id == account_id))
    }
    return {
        **_header("home", zone, currency, since, until),
        "kpis": _summary_card(totals, currency),
        "series": series,
        "latest": latest,
    }


def shopify(
    session: Session, account_id: str, now: dt.datetime, since: dt.date | None, until: dt.date | None
) -> dict[str, Any]:
    zone, currency = account_locale(session, account_id)
    since, until = date_range(zone, now, since, until)
    s = DailyShopifyMetrics
    per_day: dict[dt.date, dict[str, Any]] = {}
    for r in session.execute(
        select(
            s.date,
            func.coalesce(func.sum(s.orders), 0).label("orders"),
            func.coalesce(func.sum(s.cancelled_orders), 0).label("cancelled_orders"),
            money_sum(s.gross).label("gross"),
            money_sum(s.discounts).label("discounts"),
            money_sum(s.refunds).label("refunds"),
            money_sum(s.revenue_net).label("revenue_net"),
        )
        .where(s.account_id == account_id, s.date.between(since, until))
        .group_by(s.date)
    ):
        per_day[r.date] = {
            k: (int(v) if k.endswith("orders") else Decimal(v)) for k, v in r._mapping.items() if k != "date"
        }
    keys = ("orders", "cancelled_orders", "gross", "discounts", "refunds", "revenue_net")
    empty = {k: (0 if k.endswith("orders") else ZERO) for k in keys}
    total = dict(empty)
    for values in per_day.values():
        for k in keys:
            total[k] += values[k]

    def card(v: dict[str, Any]) -> dict[str, Any]:
        aov = money_ratio(v["revenue_net"], v["orders"])
        return {
            "orders": v["orders"],
            "cancelled_orders": v["cancelled_orders"],
            **{k: money(v[k], currency) for k in ("gross", "discounts", "refunds", "revenue_net")},
            "aov": None if aov is None else money(aov, currency),
        }

    series = [{"date": d, **card(per_day.get(d, empty))} for d in _days(since, until)]
    return {**_header("shopify", zone, currency, since, until), "kpis": card(total), "series": series}


def _meta_card(v: dict[str, Any], currency: str) -> dict[str, Any]:
    spend, clicks, impressions = v["spend"], v["clicks"], v["impressions"]
    cpc = money_ratio(spend, clicks)
    return {
        "spend": money(spend, currency),
        "impressions": impressions,
        "clicks": clicks,
        "ctr": _ratio(ratio(Decimal(clicks), impressions)),
        "cpc": None if cpc is None else money(cpc, currency),
        "purchases": format(v["purchases"].normalize(), "f") if v["purchases"] else "0",
        "purchase_value": money(v["purchase_value"], currency),
        "roas": _ratio(ratio(v["purchase_value"], spend)),
    }


def _utm_id(url: str | None) -> str | None:
    if not url or "utm_id=" not in url:
        return None
    values = parse_qs(urlsplit(url).query).get("utm_id")
    return values[0].strip() if values else None


def attributed_by_campaign(
    session: Session,
    account_id: str,
    currency: str,
    zone: str,
    since: dt.date,
    until: dt.date,
    campaigns: dict[str, str],  # campaign id → name
) -> dict[str, dict[str, Decimal]]:
    """campaign id → model → revenue credited (current attribution version) to that campaign's traffic."""
    tz = ZoneInfo(zone)
    start = dt.datetime.combine(since, dt.time(), tz).astimezone(dt.UTC)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)
    by_name = {name.strip().lower(): cid for cid, name in campaigns.items() if name}
    cr, c, s = AttributionCredit, Conversion, VisitSession
    query = (
        select(cr.model, cr.revenue_credit, cr.utm_campaign, s.landing_url)
        .join(c, and_(c.id == cr.conversion_id, c.attribution_version == cr.version))
        .outerjoin(s, and_(s.id == cr.session_id, s.account_id == account_id))
        .where(
            cr.account_id == account_id,
            c.account_id == account_id,
            c.currency == currency,
            c.occurred_at >= start,
            c.occurred_at < end,
            or_(cr.utm_campaign.is_not(None), s.landing_url.like("%utm_id=%")),
        )
    )
    out: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for model, revenue, utm_campaign, landing_url in session.execute(query):
        utm_id = _utm_id(landing_url)
        campaign = utm_id if utm_id in campaigns else by_name.get((utm_campaign or "").strip().lower())
        if campaign is not None:
            out[campaign][model] += Decimal(revenue)
    return out


def meta(
    session: Session, account_id: str, now: dt.datetime, since: dt.date | None, until: dt.date | None
) -> dict[str, Any]:
    zone, currency = account_locale(session, account_id)
    since, until = date_range(zone, now, since, until)
    m = DailyMetaMetrics
    zero = {"spend": ZERO, "impressions": 0, "clicks": 0, "purchases": ZERO, "purchase_value": ZERO}
    per_day: dict[dt.date, dict[str, Any]] = {}
    for r in session.execute(
        select(
            m.date,
            money_sum(m.spend).label("spend"),
            func.coalesce(func.sum(m.impressions), 0).label("impressions"),
            func.coalesce(func.sum(m.clicks), 0).label("clicks"),
            money_sum(m.purchases).label("purchases"),
            money_sum(m.purchase_value).label("purchase_value"),
        )
        .where(m.account_id == account_id, m.date.between(since, until))
        .group_by(m.date)
    ):
        per_day[r.date] = {
            "spend": Decimal(r.spend),
            "impressions": int(r.impressions),
            "clicks": int(r.clicks),
            "purchases": Decimal(r.purchases),
            "purchase_value": Decimal(r.purchase_value),
        }
    total = dict(zero)
    for values in per_day.values():
        for k in total:
            total[k] += values[k]

    f = FactMetaDaily
    spend_rows = session.execute(
        select(
            f.campaign_id,
            func.max(f.campaign_name).label("campaign_name"),
            money_sum(f.spend).label("spend"),
            money_sum(f.purchases).label("purchases"),
            money_sum(f.purchase_value).label("purchase_value"),
        )
        .where(f.account_id == account_id, f.level == "ad", f.date.between(since, until), f.campaign_id.is_not(None))
        .group_by(f.campaign_id)
    ).all()
    names = {str(r.campaign_id): str(r.campaign_name or "") for r in spend_rows}
    attributed = attributed_by_campaign(session, account_id, currency, zone, since, until, names)
    campaigns = []
    for c in sorted(spend_rows, key=lambda r: (-Decimal(r.spend), str(r.campaign_id))):
        spend = Decimal(c.spend)
        credited = attributed.get(str(c.campaign_id), {})
        campaigns.append(
            {
                "campaign_id": str(c.campaign_id),
                "campaign_name": c.campaign_name,
                "spend": money(spend, currency),
                "purchases": format(Decimal(c.purchases).normalize(), "f") if c.purchases else "0",
                "purchase_value": money(Decimal(c.purchase_value), currency),
                "platform_roas": _ratio(ratio(Decimal(c.purchase_value), spend)),
                "attributed": {
                    model: {
                        "revenue": money(credited.get(model, ZERO), currency),
                        "roas": _ratio(ratio(credited.get(model, ZERO), spend)),
                    }
                    for model in MODELS
                },
            }
        )
    series = [{"date": d, **_meta_card(per_day.get(d, zero), currency)} for d in _days(since, until)]
    return {
        **_header("meta", zone, currency, since, until),
        "kpis": _meta_card(total, currency),
        "series": series,
        "campaigns": campaigns,
    }
