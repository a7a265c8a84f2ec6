"""Stats read from the rollups (never from raw rows): overview, chart, per-influencer, per-campaign,
channels per model, funnels, and an influencer's own view. Every answer names its time zone and currency."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, literal_column, select
from sqlalchemy.orm import Session

from multibuzz.clock import Clock
from multibuzz.db.models import Account
from multibuzz.db.models.influencer import Campaign, CampaignInfluencer, Coupon, Influencer, TrackingLink
from multibuzz.db.models.reports import CommissionRule, ReportRollup
from multibuzz.domain.attribution import MODELS
from multibuzz.domain.timezones import zone
from multibuzz.errors import InvalidInputError, NotFoundError
from multibuzz.reports.figures import (
    ZERO,
    Range,
    Rule,
    aov,
    bucket_label,
    buckets,
    check_hourly,
    commission,
    count,
    credit,
    money,
    parse_range,
    ratio,
    split_pair,
)
from multibuzz.reports.rollup import SEP
from multibuzz.reports.store import HOURLY_DAYS, local_day

Totals = dict[tuple[str, str, str], Decimal]  # (dim_value, metric, sub_key) → sum


@dataclass(frozen=True, slots=True)
class Locale:
    timezone: str
    currency: str

    def head(self, rng: Range, **extra: Any) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "currency": self.currency,
            "from": rng.first.isoformat(),
            "to": rng.last.isoformat(),
            **extra,
        }


class Reports:
    def __init__(self, session: Session, clock: Clock, account_id: str) -> None:
        self.session = session
        self.clock = clock
        self.account_id = account_id
        account = session.get(Account, account_id)
        if account is None:
            raise NotFoundError("account not found")
        self.locale = Locale(account.timezone or "UTC", account.currency or "USD")
        self.tz = zone(self.locale.timezone)
        self._rules: dict[tuple[str, str], Rule] | None = None

    # -- reading the rollups ------------------------------------------------------------------------

    @property
    def today(self) -> date:
        return local_day(self.clock.now(), self.tz)

    def range(self, first: date | None, last: date | None, granularity: str = "day") -> Range:
        rng = parse_range(first, last, self.today)
        if granularity == "hour":
            check_hourly(rng, self.today, HOURLY_DAYS)
        return rng

    def totals(
        self,
        rng: Range,
        dimension: str,
        metrics: Sequence[str],
        dim_prefix: str | None = None,
        dim_value: str | None = None,
    ) -> Totals:
        query = (
            select(ReportRollup.dim_value, ReportRollup.metric, ReportRollup.sub_key, func.sum(ReportRollup.value))
            .where(
                ReportRollup.account_id == self.account_id,
                ReportRollup.grain == "day",
                ReportRollup.dimension == dimension,
                ReportRollup.metric.in_(list(metrics)),
                ReportRollup.day >= rng.first,
                ReportRollup.day <= rng.last,
            )
            .group_by(ReportRollup.dim_value, ReportRollup.metric, ReportRollup.sub_key)
        )
        if dim_value is not None:
            query = query.where(ReportRollup.dim_value == dim_value)
        if dim_prefix is not None:
            query = query.where(ReportRollup.dim_value.startswith(dim_prefix, autoescape=True))
        return {(r[0], r[1], r[2]): Decimal(r[3]) for r in self.session.execute(query)}

    def series(
        self, rng: Range, granularity: str, dimension: str, dim_value: str, metrics: Sequence[str]
    ) -> dict[tuple[date, int, str], Decimal]:
        query = (
            select(ReportRollup.day, ReportRollup.hour, ReportRollup.metric, func.sum(ReportRollup.value))
            .where(
                ReportRollup.account_id == self.account_id,
                ReportRollup.grain == granularity,
                ReportRollup.dimension == dimension,
                ReportRollup.dim_value == dim_value,
                ReportRollup.metric.in_(list(metrics)),
                ReportRollup.day >= rng.first,
                ReportRollup.day <= rng.last,
            )
            .group_by(ReportRollup.day, ReportRollup.hour, ReportRollup.metric)
        )
        return {(r[0], r[1], r[2]): Decimal(r[3]) for r in self.session.execute(query)}

    def rules(self) -> dict[tuple[str, str], Rule]:
        if self._rules is not None:
            return self._rules
        rows = self.session.scalars(select(CommissionRule).where(CommissionRule.account_id == self.account_id))
        self._rules = {(r.campaign_id, r.influencer_id): Rule(r.kind, Decimal(r.value)) for r in rows}
        return self._rules

    def period_totals(self, current: Range, previous: Range, dimension: str, metrics: Sequence[str]) -> list[Totals]:
        """``totals`` of two adjacent ranges (previous, then current) in one range scan."""
        in_current = case((ReportRollup.day >= current.first, 1), else_=0).label("in_current")
        query = (
            select(
                in_current,
                ReportRollup.dim_value,
                ReportRollup.metric,
                ReportRollup.sub_key,
                func.sum(ReportRollup.value),
            )
            .where(
                ReportRollup.account_id == self.account_id,
                ReportRollup.grain == "day",
                ReportRollup.dimension == dimension,
                ReportRollup.metric.in_(list(metrics)),
                ReportRollup.day >= previous.first,
                ReportRollup.day <= current.last,
            )
            # by the alias: one expression in the select list, so ONLY_FULL_GROUP_BY (MySQL 8) accepts it
            .group_by(literal_column("in_current"), ReportRollup.dim_value, ReportRollup.metric, ReportRollup.sub_key)
        )
        out: list[Totals] = [{}, {}]
        for r in self.session.execute(query):
            out[int(r[0])][(r[1], r[2], r[3])] = Decimal(r[4])
        return out

    def commissions(
        self, rng: Range, influencer_id: str | None = None, cells: Totals | None = None
    ) -> dict[tuple[str, str], Decimal]:
        """Commission due per (influencer, campaign) pair over the range (or over the ``pair`` cells given)."""
        prefix = f"{influencer_id}|" if influencer_id else None
        if cells is None:
            cells = self.totals(rng, "pair", ("conversions", "revenue"), dim_prefix=prefix)
        rules = self.rules()
        pairs: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"conversions": ZERO, "revenue": ZERO})
        for (value, metric, _), total in cells.items():
            if value:
                pairs[value][metric] += total
        out = {}
        for value, sums in pairs.items():
            influencer, campaign = split_pair(value)
            out[(influencer, campaign)] = commission(rules, influencer, campaign, sums["conversions"], sums["revenue"])
        return out

    # -- the stats ------------------------------------------------------------------------------------

    def _overview_block(self, rng: Range, cells: Totals, pairs: Totals) -> dict[str, Any]:
        by: dict[str, Decimal] = defaultdict(Decimal)
        events: dict[str, int] = {}
        for (_, metric, sub), total in cells.items():
            if metric == "events":
                events[sub] = count(total)
            else:
                by[metric] += total
        due = sum(self.commissions(rng, cells=pairs).values(), ZERO)
        return {
            "from": rng.first.isoformat(),
            "to": rng.last.isoformat(),
            "clicks": count(by["clicks"]),
            "unique_clicks": count(by["unique_clicks"]),
            "sessions": count(by["sessions"]),
            "visitors": count(by["visitors"]),
            "events": dict(sorted(events.items())),
            "conversions": count(by["conversions"]),
            "revenue": money(by["revenue"]),
            "conversion_rate": ratio(by["conversions"], by["sessions"]),
            "aov": aov(by["revenue"], by["conversions"]),
            "commission": money(due),
        }

    def overview(self, first: date | None, last: date | None) -> dict[str, Any]:
        rng = self.range(first, last)
        before = rng.previous()
        metrics = ("clicks", "unique_clicks", "sessions", "visitors", "events", "conversions", "revenue")
        old, new = self.period_totals(rng, before, "all", metrics)
        old_pairs, new_pairs = self.period_totals(rng, before, "pair", ("conversions", "revenue"))
        return {
            **self.locale.head(rng),
            "current": self._overview_block(rng, new, new_pairs),
            "previous": self._overview_block(before, old, old_pairs),
        }

    def chart(
        self, first: date | None, last: date | None, granularity: str, dimension: str = "all", dim_value: str = ""
    ) -> dict[str, Any]:
        rng = self.range(first, last, granularity)
        cells = self.series(rng, granularity, dimension, dim_value, ("clicks", "conversions", "revenue"))
        points = []
        for day, hour in buckets(rng, granularity):
            points.append(
                {
                    "at": bucket_label(day, hour, granularity),
                    "clicks": count(cells.get((day, hour, "clicks"), ZERO)),
                    "conversions": count(cells.get((day, hour, "conversions"), ZERO)),
                    "revenue": money(cells.get((day, hour, "revenue"), ZERO)),
                }
            )
        return {**self.locale.head(rng, granularity=granularity), "series": points}

    def _per(self, rng: Range, dimension: str) -> dict[str, dict[str, Decimal]]:
        cells = self.totals(rng, dimension, ("clicks", "unique_clicks", "conversions", "revenue"))
        rows: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for (value, metric, _), total in cells.items():
            rows[value][metric] += total
        return rows

    @staticmethod
    def _row(sums: dict[str, Decimal], due: Decimal) -> dict[str, Any]:
        revenue = sums.get("revenue", ZERO)
        return {
            "clicks": count(sums.get("clicks", ZERO)),
            "unique_clicks": count(sums.get("unique_clicks", ZERO)),
            "conversions": count(sums.get("conversions", ZERO)),
            "revenue": money(revenue),
            "conversion_rate": ratio(sums.get("conversions", ZERO), sums.get("clicks", ZERO)),
            "commission": money(due),
            # ROI on the known cost (the commission due): (revenue - cost) / cost; null without a cost.
            "roi": ratio(revenue - due, due) if due else None,
        }

    def per_influencer(self, first: date | None, last: date | None) -> dict[str, Any]:
        rng = self.range(first, last)
        rows = self._per(rng, "influencer")
        dues: dict[str, Decimal] = defaultdict(Decimal)
        for (influencer, _), due in self.commissions(rng).items():
            dues[influencer] += due
        names: dict[str, str] = dict(
            self.session.execute(
                select(Influencer.id, Influencer.name).where(Influencer.account_id == self.account_id)
            ).all()
        )
        data = [
            {
                "influencer_id": value or None,
                "name": names.get(value) if value else None,
                **self._row(sums, dues.get(value, ZERO)),
            }
            for value, sums in sorted(rows.items(), key=lambda kv: (-kv[1].get("revenue", ZERO), kv[0]))
        ]
        return {**self.locale.head(rng), "data": data}

    def per_campaign(self, first: date | None, last: date | None) -> dict[str, Any]:
        rng = self.range(first, last)
        rows = self._per(rng, "campaign")
        dues: dict[str, Decimal] = defaultdict(Decimal)
        for (_, campaign), due in self.commissions(rng).items():
            dues[campaign] += due
        names: dict[str, str] = dict(
            self.session.execute(select(Campaign.id, Campaign.name).where(Campaign.account_id == self.account_id)).all()
        )
        data = [
            {
                "campaign_id": value or None,
                "name": names.get(value) if value else None,
                **self._row(sums, dues.get(value, ZERO)),
            }
            for value, sums in sorted(rows.items(), key=lambda kv: (-kv[1].get("revenue", ZERO), kv[0]))
        ]
        return {**self.locale.head(rng), "data": data}

    def channels(self, first: date | None, last: date | None, model: str) -> dict[str, Any]:
        if model != "all" and model not in MODELS:
            raise InvalidInputError(f"model must be 'all' or one of {', '.join(MODELS)}", field="model")
        models = list(MODELS) if model == "all" else [model]
        rng = self.range(first, last)
        cells = self.totals(rng, "channel", ("sessions", "attr_conv", "attr_rev"))
        by: dict[str, dict[str, Any]] = defaultdict(lambda: {"sessions": ZERO, "models": defaultdict(dict)})
        totals = {m: {"conversions": ZERO, "revenue": ZERO} for m in models}
        for (channel, metric, sub), total in cells.items():
            if metric == "sessions":
                by[channel]["sessions"] += total
            elif sub in totals:
                key = "conversions" if metric == "attr_conv" else "revenue"
                by[channel]["models"][sub][key] = total
                totals[sub][key] += total
        data = []
        for channel, row in sorted(by.items()):
            data.append(
                {
                    "channel": channel or None,
                    "sessions": count(row["sessions"]),
                    "models": {
                        m: {
                            "conversions": credit(row["models"].get(m, {}).get("conversions", ZERO)),
                            "revenue": money(row["models"].get(m, {}).get("revenue", ZERO)),
                        }
                        for m in models
                    },
                }
            )
        return {
            **self.locale.head(rng, model=model),
            "models": models,
            "data": data,
            "totals": {
                m: {"conversions": credit(t["conversions"]), "revenue": money(t["revenue"])} for m, t in totals.items()
            },
        }

    def funnel(self, name: str, first: date | None, last: date | None, split: str | None) -> dict[str, Any]:
        rng = self.range(first, last)
        dimension = "channel" if split == "channel" else "all"
        cells = self.totals(rng, dimension, ("funnel",))
        prefix = f"{name}{SEP}"
        groups: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
        for (value, _, sub), total in cells.items():
            if not sub.startswith(prefix):
                continue
            _, place, step = sub.split(SEP, 2)
            slot = groups[value].setdefault(int(place), {"position": int(place), "step": step, "sessions": 0})
            slot["sessions"] += count(total)
            slot["step"] = slot["step"] or step
        positions = sorted({p for steps in groups.values() for p in steps})

        def steps_of(found: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
            out, previous = [], None
            for position in positions:
                slot = found.get(position, {"position": position, "step": "", "sessions": 0})
                sessions = slot["sessions"]
                out.append(
                    {
                        **slot,
                        "rate_from_previous": ratio(Decimal(sessions), Decimal(previous))
                        if previous is not None
                        else None,
                        "drop_off": (previous - sessions) if previous is not None else None,
                    }
                )
                previous = sessions
            return out

        labels: dict[int, str] = {}
        for steps in groups.values():
            for position, slot in steps.items():
                labels.setdefault(position, slot["step"])
        merged: dict[int, dict[str, Any]] = {}
        for steps in groups.values():
            for position, slot in steps.items():
                entry = merged.setdefault(position, {"position": position, "step": labels[position], "sessions": 0})
                entry["sessions"] += slot["sessions"]
        answer: dict[str, Any] = {**self.locale.head(rng, funnel=name), "steps": steps_of(merged)}
        if split == "channel":
            answer["by_channel"] = [
                {"channel": channel or None, "steps": steps_of(steps)} for channel, steps in sorted(groups.items())
            ]
        return answer

    # -- an influencer's own view -----------------------------------------------------------------------

    def influencer_overview(self, influencer_id: str, first: date | None, last: date | None) -> dict[str, Any]:
        rng = self.range(first, last)
        cells = self.totals(
            rng, "influencer", ("clicks", "unique_clicks", "conversions", "revenue"), dim_value=influencer_id
        )
        sums: dict[str, Decimal] = defaultdict(Decimal)
        for (_, metric, _), total in cells.items():
            sums[metric] += total
        dues = self.commissions(rng, influencer_id)
        by_campaign = [{"campaign_id": c or None, "commission": money(d)} for (_, c), d in sorted(dues.items())]
        return {
            **self.locale.head(rng),
            "influencer_id": influencer_id,
            "clicks": count(sums["clicks"]),
            "unique_clicks": count(sums["unique_clicks"]),
            "conversions": count(sums["conversions"]),
            "sales": money(sums["revenue"]),
            "commission": money(sum(dues.values(), ZERO)),
            "commission_by_campaign": by_campaign,
            **self._influencer_assets(influencer_id),
        }

    def _influencer_assets(self, influencer_id: str) -> dict[str, Any]:
        account = self.account_id
        campaigns = self.session.execute(
            select(Campaign.id, Campaign.name, Campaign.status)
            .join(CampaignInfluencer, CampaignInfluencer.campaign_id == Campaign.id)
            .where(
                Campaign.account_id == account,
                CampaignInfluencer.influencer_id == influencer_id,
                Campaign.status == "active",
            )
            .order_by(Campaign.name)
        ).all()
        links = self.session.execute(
            select(TrackingLink.id, TrackingLink.code, TrackingLink.campaign_id, TrackingLink.destination_url)
            .where(
                TrackingLink.account_id == account,
                TrackingLink.influencer_id == influencer_id,
                TrackingLink.status == "active",
            )
            .order_by(TrackingLink.code)
        ).all()
        coupons = self.session.execute(
            select(Coupon.id, Coupon.code, Coupon.campaign_id)
            .where(Coupon.account_id == account, Coupon.influencer_id == influencer_id, Coupon.status == "active")
            .order_by(Coupon.code)
        ).all()
        return {
            "campaigns": [{"id": c.id, "name": c.name} for c in campaigns],
            "links": [
                {"id": x.id, "code": x.code, "campaign_id": x.campaign_id, "destination_url": x.destination_url}
                for x in links
            ],
            "coupons": [{"id": c.id, "code": c.code, "campaign_id": c.campaign_id} for c in coupons],
        }
