"""Attribute one conversion: gather its touches, run every model, store credits (versioned).

Touches are the non-bot sessions of the conversion's identity (all linked
visitors) — or of its visitor when no identity is known — that started inside
the lookback window up to the conversion. Each re-attribution writes a new
version; earlier versions stay as history.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, case, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from multibuzz.bootstrap import Container
from multibuzz.clock import ensure_utc
from multibuzz.db.models import (
    Account,
    AttributionCredit,
    Conversion,
    Event,
    ModelFit,
    Visitor,
    VisitSession,
)
from multibuzz.domain.attribution import (
    MODELS,
    MarkovModel,
    ShapleyModel,
    Touch,
    allocate_revenue,
    attribute,
    revenue_credits,
)
from multibuzz.domain.waterfall import influencer_touch_of
from multibuzz.services.waterfall import InfluencerCredit, TouchRef, resolve_influencer
from multibuzz.telemetry import metrics

DEFAULT_LOOKBACK_DAYS = 30
DEFAULT_HALF_LIFE_DAYS = 7.0
LEAD_EVENT_TYPES = ("signup", "sign_up", "lead", "register", "registration")
FIT_CACHE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class TouchRow:
    session_id: str
    channel: str
    started_at: datetime
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    landing_url: str | None
    referrer: str | None


# -- settings ---------------------------------------------------------------------------------
def lookback_for(model: str, conversion: Conversion, account_settings: dict[str, Any]) -> int:
    """Request override, then the account's per-model setting, then the account default, then 30 days."""
    if conversion.lookback_days:
        return int(conversion.lookback_days)
    per_model = account_settings.get("model_lookback_days") or {}
    if isinstance(per_model, dict) and per_model.get(model):
        return int(per_model[model])
    return int(account_settings.get("lookback_days") or DEFAULT_LOOKBACK_DAYS)


def half_life_for(account_settings: dict[str, Any]) -> float:
    return float(account_settings.get("half_life_days") or DEFAULT_HALF_LIFE_DAYS)


# -- data-driven fits, cached per process ----------------------------------------------------
class FitCache:
    """Latest Markov/Shapley fit per account, re-read at most once a minute (fits change daily)."""

    def __init__(self, ttl: float = FIT_CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, Any]] = {}

    def get(self, session: Session, account_id: str, model: str) -> tuple[int, Any] | None:
        key = (account_id, model)
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self.ttl:
            cached: tuple[int, Any] | None = entry[1]
            return cached
        fit = session.scalar(
            select(ModelFit)
            .where(ModelFit.account_id == account_id, ModelFit.model == model)
            .order_by(ModelFit.version.desc())
            .limit(1)
        )
        value: tuple[int, Any] | None = None
        if fit is not None:
            loaded = MarkovModel.from_dict(fit.weights) if model == "markov" else ShapleyModel.from_dict(fit.weights)
            value = (fit.version, loaded)
        with self._lock:
            self._entries[key] = (now, value)
        return value

    def invalidate(self, account_id: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == account_id]:
                del self._entries[key]


fit_cache = FitCache()


# -- journeys, loaded set-based for a batch of conversions ------------------------------------
@dataclass
class JourneyData:
    visitor_ids: list[str]
    touches: list[TouchRow]  # chronological, non-bot, inside the widest lookback
    lead_session_id: str | None


def load_journeys(
    session: Session, conversions: Sequence[Conversion], widest_days: dict[str, int]
) -> dict[str, JourneyData]:
    """Every conversion's journey in a handful of queries, whatever the batch size."""
    if not conversions:
        return {}
    account_id = conversions[0].account_id
    direct_visitors = {c.visitor_id for c in conversions if c.visitor_id}
    identity_of: dict[str, str | None] = {}
    if direct_visitors:
        identity_of = dict(
            session.execute(select(Visitor.id, Visitor.identity_id).where(Visitor.id.in_(direct_visitors))).all()
        )
    identity_ids = {c.identity_id for c in conversions if c.identity_id} | {i for i in identity_of.values() if i}
    visitors_of_identity: dict[str, list[str]] = {}
    if identity_ids:
        for vid, iid in session.execute(
            select(Visitor.id, Visitor.identity_id)
            .where(Visitor.account_id == account_id, Visitor.identity_id.in_(identity_ids))
            .order_by(Visitor.id)
        ):
            if iid is not None:
                visitors_of_identity.setdefault(iid, []).append(vid)

    visitor_lists: dict[str, list[str]] = {}
    for c in conversions:
        identity = c.identity_id or (identity_of.get(c.visitor_id) if c.visitor_id else None)
        ids = list(visitors_of_identity.get(identity, [])) if identity else []
        if c.visitor_id and c.visitor_id not in ids:
            ids.append(c.visitor_id)
        visitor_lists[c.id] = ids
    every_visitor = {v for ids in visitor_lists.values() for v in ids}

    by_visitor: dict[str, list[TouchRow]] = {}
    leads: dict[str, tuple[datetime, str, str]] = {}
    if every_visitor:
        since = min(c.occurred_at - timedelta(days=widest_days[c.id]) for c in conversions)
        until = max(c.occurred_at for c in conversions)
        rows = session.execute(
            select(
                VisitSession.visitor_id,
                VisitSession.id,
                VisitSession.channel,
                VisitSession.started_at,
                VisitSession.utm_source,
                VisitSession.utm_medium,
                VisitSession.utm_campaign,
                VisitSession.landing_url,
                VisitSession.referrer,
            ).where(
                VisitSession.account_id == account_id,
                VisitSession.visitor_id.in_(every_visitor),
                VisitSession.started_at >= since,
                VisitSession.started_at <= until,
                VisitSession.is_bot.is_(False),
            )
        )
        for visitor_id, sid, channel, started, source, medium, campaign, landing, referrer in rows:
            by_visitor.setdefault(visitor_id, []).append(
                TouchRow(sid, channel, started, source, medium, campaign, landing, referrer)
            )
        for lead_visitor, session_id, occurred_at, event_id in session.execute(
            select(Event.visitor_id, Event.session_id, Event.occurred_at, Event.id).where(
                Event.account_id == account_id,
                Event.visitor_id.in_(every_visitor),
                Event.event_type.in_(LEAD_EVENT_TYPES),
                Event.session_id.is_not(None),
            )
        ):
            if lead_visitor is None or session_id is None:
                continue
            candidate = (occurred_at, event_id, session_id)
            if lead_visitor not in leads or candidate < leads[lead_visitor]:
                leads[lead_visitor] = candidate

    journeys = {}
    for c in conversions:
        ids = visitor_lists[c.id]
        lower = c.occurred_at - timedelta(days=widest_days[c.id])
        touches = sorted(
            (t for v in ids for t in by_visitor.get(v, ()) if lower <= t.started_at <= c.occurred_at),
            key=lambda t: (t.started_at, t.session_id),
        )
        lead_candidates = [leads[v] for v in ids if v in leads]
        journeys[c.id] = JourneyData(ids, touches, min(lead_candidates)[2] if lead_candidates else None)
    return journeys


def acquisition_conversion(session: Session, conversion: Conversion, visitor_ids: Sequence[str]) -> Conversion | None:
    """The identity's (or visitor's) earliest attributed acquisition conversion, other than this one."""
    scope = []
    if conversion.identity_id:
        scope.append(Conversion.identity_id == conversion.identity_id)
    if visitor_ids:
        scope.append(Conversion.visitor_id.in_(visitor_ids))
    if not scope:
        return None
    return session.scalar(
        select(Conversion)
        .where(
            Conversion.account_id == conversion.account_id,
            Conversion.id != conversion.id,
            Conversion.is_acquisition.is_(True),
            Conversion.status == "attributed",
            or_(*scope),
        )
        .order_by(Conversion.occurred_at, Conversion.id)
        .limit(1)
    )


# -- the computation --------------------------------------------------------------------------
@dataclass
class Outcome:
    rows: list[dict[str, Any]]
    meta: dict[str, Any]
    sessions_analyzed: int
    touches: list[TouchRow]


def _row(
    conversion: Conversion,
    version: int,
    model: str,
    position: int,
    credit: Decimal,
    revenue: Decimal,
    touch: TouchRow | None,
    channel: str,
) -> dict[str, Any]:
    return {
        "account_id": conversion.account_id,
        "conversion_id": conversion.id,
        "version": version,
        "model": model,
        "position": position,
        "session_id": touch.session_id if touch else None,
        "channel": channel,
        "utm_source": touch.utm_source if touch else None,
        "utm_medium": touch.utm_medium if touch else None,
        "utm_campaign": touch.utm_campaign if touch else None,
        "touch_at": touch.started_at if touch else None,
        "credit": credit,
        "revenue_credit": revenue,
    }


def _inherited(session: Session, conversion: Conversion, source: Conversion, version: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    inherited = session.scalars(
        select(AttributionCredit)
        .where(AttributionCredit.conversion_id == source.id, AttributionCredit.version == source.attribution_version)
        .order_by(AttributionCredit.model, AttributionCredit.position)
    ).all()
    by_model: dict[str, list[AttributionCredit]] = {}
    for credit in inherited:
        by_model.setdefault(credit.model, []).append(credit)
    for model, credits in by_model.items():
        if model == "participation":
            amounts = [conversion.revenue] * len(credits)
        else:
            amounts = allocate_revenue([c.credit for c in credits], conversion.revenue, conversion.currency)
        for position, (credit, amount) in enumerate(zip(credits, amounts, strict=True)):
            rows.append(
                {
                    **_row(conversion, version, model, position, credit.credit, amount, None, credit.channel),
                    "session_id": credit.session_id,
                    "utm_source": credit.utm_source,
                    "utm_medium": credit.utm_medium,
                    "utm_campaign": credit.utm_campaign,
                    "touch_at": credit.touch_at,
                }
            )
    return rows


def compute(
    session: Session,
    conversion: Conversion,
    account_settings: dict[str, Any],
    version: int,
    journey: JourneyData,
    lookbacks: dict[str, int],
) -> Outcome:
    at = conversion.occurred_at
    touches = journey.touches
    meta: dict[str, Any] = {"lookback_days": lookbacks, "models": {}}

    if conversion.inherit_acquisition:
        source = acquisition_conversion(session, conversion, journey.visitor_ids)
        if source is not None:
            meta["inherited_from"] = source.id
            return Outcome(_inherited(session, conversion, source, version), meta, source.sessions_analyzed, touches)
        meta["inherit_acquisition"] = "no acquisition conversion found; attributed from this conversion's journey"

    fits: dict[str, Any] = {}
    for model in ("markov", "shapley"):
        found = fit_cache.get(session, conversion.account_id, model)
        if found is not None:
            meta["models"].setdefault(model, {})["fit_version"] = found[0]
            fits[model] = found[1]
    half_life = half_life_for(account_settings)
    rows: list[dict[str, Any]] = []
    by_lookback: dict[int, list[str]] = {}
    for model, days in lookbacks.items():
        by_lookback.setdefault(days, []).append(model)
    analyzed = 0
    for days, models in by_lookback.items():
        window = [t for t in touches if t.started_at >= at - timedelta(days=days)]
        analyzed = max(analyzed, len(window))
        index = {t.session_id: t for t in window}
        results = attribute(
            [Touch(t.session_id, t.channel, t.started_at, t.session_id == journey.lead_session_id) for t in window],
            at,
            models=models,
            half_life_days=half_life,
            markov=fits.get("markov"),
            shapley=fits.get("shapley"),
        )
        for model, result in results.items():
            if result.fallback:
                meta["models"].setdefault(model, {})["fallback"] = result.fallback
            if not result.credits:  # no touch in the window: direct gets it all
                rows.append(_row(conversion, version, model, 0, Decimal(1), conversion.revenue, None, "direct"))
                continue
            amounts = revenue_credits(result, conversion.revenue, conversion.currency)
            for position, (credit, amount) in enumerate(zip(result.credits, amounts, strict=True)):
                rows.append(
                    _row(
                        conversion,
                        version,
                        model,
                        position,
                        credit.credit,
                        amount,
                        index[credit.session_id],
                        credit.channel,
                    )
                )
    return Outcome(rows, meta, analyzed, touches)


def attribute_conversions(
    session: Session,
    container: Container,
    conversions: Sequence[Conversion],
    account_settings: dict[str, Any] | None = None,
) -> list[Outcome]:
    """Compute and store a new attribution version for each conversion of one account (the caller commits)."""
    if not conversions:
        return []
    account_id = conversions[0].account_id
    if any(c.account_id != account_id for c in conversions):
        raise ValueError("attribute_conversions works on one account at a time")
    if account_settings is None:
        account_settings = dict(session.scalar(select(Account.settings).where(Account.id == account_id)) or {})
    lookbacks = {c.id: {m: lookback_for(m, c, account_settings) for m in MODELS} for c in conversions}
    journeys = load_journeys(session, conversions, {cid: max(lb.values()) for cid, lb in lookbacks.items()})
    outcomes, rows = [], []
    now = container.clock.now()
    changes: dict[str, dict[str, Any]] = {}
    for conversion in conversions:
        version = conversion.attribution_version + 1
        outcome = compute(
            session, conversion, account_settings, version, journeys[conversion.id], lookbacks[conversion.id]
        )
        rows.extend(outcome.rows)
        credit = resolve_influencer_for(session, conversion, outcome.touches, account_settings)
        if credit is not None:
            outcome.meta["influencer"] = credit.as_dict()
        if conversion.status != "attributed":  # first attribution (re-attributions are not counted again)
            metrics.count(metrics.Metric.CONVERSIONS_ATTRIBUTED)
            lag = (now - ensure_utc(conversion.received_at)).total_seconds() * 1000
            metrics.observe(metrics.Metric.ATTRIBUTION_LAG, max(0.0, round(lag, 3)))
        changes[conversion.id] = {
            "attribution_version": version,
            "status": "attributed",
            "attributed_at": now,
            "sessions_analyzed": outcome.sessions_analyzed,
            "attribution_meta": outcome.meta,
            **influencer_columns(credit),
        }
        outcomes.append(outcome)
    session.flush()  # anything else pending goes first
    connection = session.connection()
    connection.execute(insert(AttributionCredit), rows)
    connection.execute(_bulk_update(changes))
    for conversion in conversions:  # keep the identity map in step without a second UPDATE
        for key, value in changes[conversion.id].items():
            set_committed_value(conversion, key, value)
    return outcomes


def _bulk_update(changes: dict[str, dict[str, Any]]) -> Any:
    """One UPDATE for the whole batch: ``SET col = CASE id WHEN … THEN … END`` (any SQL dialect)."""
    ids = list(changes)
    columns = next(iter(changes.values())).keys()
    values: dict[str, Any] = {}
    for column in columns:
        column_type = Conversion.__table__.c[column].type
        per_id = {cid: changes[cid][column] for cid in ids}
        if len({repr(v) for v in per_id.values()}) == 1:
            values[column] = bindparam(None, per_id[ids[0]], type_=column_type)
        else:
            values[column] = case(
                {cid: bindparam(None, value, type_=column_type) for cid, value in per_id.items()},
                value=Conversion.id,
            )
    return update(Conversion).where(Conversion.id.in_(ids)).values(values).execution_options(synchronize_session=False)


def attribute_conversion(
    session: Session, container: Container, conversion: Conversion, account_settings: dict[str, Any] | None = None
) -> Outcome:
    return attribute_conversions(session, container, [conversion], account_settings)[0]


def resolve_influencer_for(
    session: Session,
    conversion: Conversion,
    touches: Sequence[TouchRow],
    account_settings: Mapping[str, Any] | None = None,
) -> InfluencerCredit | None:
    """The influencer waterfall (coupon → ref_code → landing URL) for one conversion; step 3 takes the
    first matching touch unless the account sets ``influencer_touch: "last"``."""
    props = conversion.properties or {}
    return resolve_influencer(
        session,
        conversion.account_id,
        coupon_code=_text(props.get("coupon_code")),
        ref_code=_text(props.get("ref_code")),
        touches=[TouchRef(t.session_id, t.landing_url, t.referrer, t.started_at) for t in touches],
        touch=influencer_touch_of(account_settings),
    )


def influencer_columns(credit: InfluencerCredit | None) -> dict[str, Any]:
    return {
        "influencer_id": credit.influencer_id if credit else None,
        "influencer_campaign_id": credit.campaign_id if credit else None,
        "influencer_link_id": credit.link_id if credit else None,
        "influencer_coupon_id": credit.coupon_id if credit else None,
        "influencer_method": credit.method if credit else None,
        "influencer_confidence": Decimal(str(credit.confidence)) if credit else None,
        "influencer_code": credit.code if credit else None,
    }


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
