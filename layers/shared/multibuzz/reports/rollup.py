"""Pure rollup arithmetic: raw rows of one local day → rollup cells. No I/O.

A cell is ``(grain, day, hour, dimension, dim_value, metric, sub_key) → Decimal``:

- grain ``day`` (hour 0) always; grain ``hour`` (local hour 0 to 23) when ``hourly`` is asked for;
- dimensions: ``all`` (dim_value ''), ``channel``, ``campaign``, ``influencer``, ``link``, and ``pair``
  (``influencer_id|campaign_id``, what commission is computed from); dim_value '' means "none";
- metrics: ``clicks`` and ``unique_clicks`` (human clicks only), ``sessions``, ``visitors`` (distinct
  visitors with a session that started in the bucket), ``events`` (sub_key = event type), ``funnel``
  (distinct sessions with an event at a funnel position; sub_key = ``funnel␟position␟step``),
  ``conversions`` and ``revenue`` (all conversions; influencer dimensions from the influencer
  waterfall), ``attr_conv`` and ``attr_rev`` (per channel, sub_key = attribution model: the credits of
  the conversion's current attribution version).
Sessions, visitors, events and funnels carry the channel of their session and the link, campaign and
influencer of the session's ref_code (a tracking link of the account). Clicks carry their link's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

SEP = "\x1f"
DIMENSIONS = ("all", "channel", "campaign", "influencer", "link", "pair")
Cell = tuple[str, date, int, str, str, str, str]


@dataclass(frozen=True, slots=True)
class LinkRef:
    link_id: str
    campaign_id: str
    influencer_id: str


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    visitor_id: str
    started_at: datetime
    channel: str
    ref_code: str | None


@dataclass(frozen=True, slots=True)
class EventRow:
    session_id: str | None
    event_type: str
    occurred_at: datetime
    channel: str | None  # of its session
    ref_code: str | None  # of its session
    funnel: str | None
    funnel_step: str | None
    funnel_position: int | None


@dataclass(frozen=True, slots=True)
class ClickRow:
    link_id: str
    campaign_id: str
    influencer_id: str
    occurred_at: datetime
    is_bot: bool
    unique_click: bool


@dataclass(frozen=True, slots=True)
class ConversionRow:
    id: str
    occurred_at: datetime
    revenue: Decimal
    influencer_id: str | None
    campaign_id: str | None
    link_id: str | None


@dataclass(frozen=True, slots=True)
class CreditRow:
    conversion_id: str
    model: str
    channel: str
    credit: Decimal
    revenue_credit: Decimal


@dataclass(frozen=True, slots=True)
class DayInput:
    sessions: list[SessionRow]
    events: list[EventRow]
    clicks: list[ClickRow]
    conversions: list[ConversionRow]
    credits: list[CreditRow]
    links: Mapping[str, LinkRef]  # lower-cased code → link


def _dims(channel: str | None, link: LinkRef | None) -> list[tuple[str, str]]:
    dims = [("all", ""), ("channel", channel or "")]
    if link is None:
        dims += [("campaign", ""), ("influencer", ""), ("link", ""), ("pair", "")]
    else:
        dims += [
            ("campaign", link.campaign_id),
            ("influencer", link.influencer_id),
            ("link", link.link_id),
            ("pair", f"{link.influencer_id}|{link.campaign_id}"),
        ]
    return dims


def _waterfall_dims(row: ConversionRow) -> list[tuple[str, str]]:
    influencer, campaign = row.influencer_id or "", row.campaign_id or ""
    pair = f"{influencer}|{campaign}" if influencer else ""
    return [
        ("all", ""),
        ("campaign", campaign),
        ("influencer", influencer),
        ("link", row.link_id or ""),
        ("pair", pair),
    ]


class _Acc:
    def __init__(self, zone: ZoneInfo, hourly: bool) -> None:
        self.zone = zone
        self.hourly = hourly
        self.sums: dict[Cell, Decimal] = defaultdict(Decimal)
        self.sets: dict[Cell, set[str]] = defaultdict(set)

    def _grains(self, at: datetime) -> list[tuple[str, date, int]]:
        local = at.astimezone(self.zone)
        grains = [("day", local.date(), 0)]
        if self.hourly:
            grains.append(("hour", local.date(), local.hour))
        return grains

    def add(self, at: datetime, dims: Iterable[tuple[str, str]], metric: str, sub: str, value: Decimal) -> None:
        grains = self._grains(at)
        for dimension, dim_value in dims:
            for grain, day, hour in grains:
                self.sums[(grain, day, hour, dimension, dim_value, metric, sub)] += value

    def distinct(self, at: datetime, dims: Iterable[tuple[str, str]], metric: str, sub: str, member: str) -> None:
        grains = self._grains(at)
        for dimension, dim_value in dims:
            for grain, day, hour in grains:
                self.sets[(grain, day, hour, dimension, dim_value, metric, sub)].add(member)

    def cells(self) -> dict[Cell, Decimal]:
        out = dict(self.sums)
        for cell, members in self.sets.items():
            out[cell] = Decimal(len(members))
        return out


ONE = Decimal(1)


def rollup_day(data: DayInput, zone: ZoneInfo, *, hourly: bool) -> dict[Cell, Decimal]:
    """Every rollup cell of the rows given (the rows of one or more local days of one account)."""
    acc = _Acc(zone, hourly)
    for s in data.sessions:
        dims = _dims(s.channel, data.links.get((s.ref_code or "").lower()))
        acc.add(s.started_at, dims, "sessions", "", ONE)
        acc.distinct(s.started_at, dims, "visitors", "", s.visitor_id)
    for e in data.events:
        dims = _dims(e.channel, data.links.get((e.ref_code or "").lower()))
        acc.add(e.occurred_at, dims, "events", e.event_type[:200], ONE)
        if e.funnel and e.funnel_position is not None and e.session_id:
            step = f"{e.funnel}{SEP}{e.funnel_position}{SEP}{e.funnel_step or ''}"[:200]
            acc.distinct(e.occurred_at, dims[:2], "funnel", step, e.session_id)
    for c in data.clicks:
        if c.is_bot:
            continue
        link = LinkRef(c.link_id, c.campaign_id, c.influencer_id)
        dims = [d for d in _dims(None, link) if d[0] != "channel"]
        acc.add(c.occurred_at, dims, "clicks", "", ONE)
        if c.unique_click:
            acc.add(c.occurred_at, dims, "unique_clicks", "", ONE)
    at_of: dict[str, datetime] = {}
    for v in data.conversions:
        at_of[v.id] = v.occurred_at
        dims = _waterfall_dims(v)
        acc.add(v.occurred_at, dims, "conversions", "", ONE)
        acc.add(v.occurred_at, dims, "revenue", "", v.revenue)
    for r in data.credits:
        at = at_of.get(r.conversion_id)
        if at is None:
            continue
        dims = [("channel", r.channel)]
        acc.add(at, dims, "attr_conv", r.model, r.credit)
        acc.add(at, dims, "attr_rev", r.model, r.revenue_credit)
    return acc.cells()
