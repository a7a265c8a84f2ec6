"""Rollups in the database: load one local day's raw rows, rebuild its cells, track stale days.

Consistency under at-least-once delivery: a consumer transaction that writes raw rows bumps the
``generation`` of every (account, local day) it touched (:func:`mark_days`). :func:`refresh` rebuilds
each stale day in its own transaction: it locks the bucket row, reads the generation, deletes the day's
rollups and writes them again from raw rows, and records that generation as built. A redelivered message
only makes a day stale again, and rebuilding a day twice writes the same rows, so no count is doubled.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.orm import Session

from multibuzz.db.models import Account, AttributionCredit, Conversion, Event, VisitSession
from multibuzz.db.models.influencer import Click, TrackingLink
from multibuzz.db.models.reports import ReportBucket, ReportRollup
from multibuzz.domain.timezones import zone
from multibuzz.reports.rollup import (
    ClickRow,
    ConversionRow,
    CreditRow,
    DayInput,
    EventRow,
    LinkRef,
    SessionRow,
    rollup_day,
)

HOURLY_DAYS = 7  # hourly rollups are kept for the last 7 local days (plus today)
_CHUNK = 2000


def account_zone(session: Session, account_id: str) -> ZoneInfo:
    name = session.scalar(select(Account.timezone).where(Account.id == account_id))
    try:
        return zone(name or "UTC")
    except ValueError:
        return zone("UTC")


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of a local day (23 or 25 hours long across a DST change)."""
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def local_day(at: datetime, tz: ZoneInfo) -> date:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(tz).date()


def load_day(session: Session, account_id: str, start: datetime, end: datetime) -> DayInput:
    sessions = [
        SessionRow(r.id, r.visitor_id, r.started_at, r.channel, r.ref_code)
        for r in session.execute(
            select(
                VisitSession.id,
                VisitSession.visitor_id,
                VisitSession.started_at,
                VisitSession.channel,
                VisitSession.ref_code,
            ).where(
                VisitSession.account_id == account_id,
                VisitSession.started_at >= start,
                VisitSession.started_at < end,
            )
        )
    ]
    events = [
        EventRow(
            r.session_id, r.event_type, r.occurred_at, r.channel, r.ref_code, r.funnel, r.funnel_step, r.funnel_position
        )
        for r in session.execute(
            select(
                Event.session_id,
                Event.event_type,
                Event.occurred_at,
                VisitSession.channel,
                VisitSession.ref_code,
                Event.funnel,
                Event.funnel_step,
                Event.funnel_position,
            )
            .outerjoin(VisitSession, VisitSession.id == Event.session_id)
            .where(Event.account_id == account_id, Event.occurred_at >= start, Event.occurred_at < end)
        )
    ]
    clicks = [
        ClickRow(r.link_id, r.campaign_id, r.influencer_id, r.occurred_at, bool(r.is_bot), bool(r.unique_click))
        for r in session.execute(
            select(
                Click.link_id,
                Click.campaign_id,
                Click.influencer_id,
                Click.occurred_at,
                Click.is_bot,
                Click.unique_click,
            ).where(Click.account_id == account_id, Click.occurred_at >= start, Click.occurred_at < end)
        )
    ]
    conversions: list[ConversionRow] = []
    versions: dict[str, int] = {}  # attributed conversions → their current attribution version
    for r in session.execute(
        select(
            Conversion.id,
            Conversion.occurred_at,
            Conversion.revenue,
            Conversion.influencer_id,
            Conversion.influencer_campaign_id,
            Conversion.influencer_link_id,
            Conversion.status,
            Conversion.attribution_version,
        ).where(Conversion.account_id == account_id, Conversion.occurred_at >= start, Conversion.occurred_at < end)
    ):
        conversions.append(
            ConversionRow(
                r.id,
                r.occurred_at,
                Decimal(r.revenue),
                r.influencer_id,
                r.influencer_campaign_id,
                r.influencer_link_id,
            )
        )
        if r.status == "attributed":
            versions[r.id] = r.attribution_version
    # Credits by conversion id (the unique index), never by a join the planner may run as a full scan.
    credits: list[CreditRow] = []
    ids = sorted(versions)
    for i in range(0, len(ids), 500):
        for c in session.execute(
            select(
                AttributionCredit.conversion_id,
                AttributionCredit.version,
                AttributionCredit.model,
                AttributionCredit.channel,
                AttributionCredit.credit,
                AttributionCredit.revenue_credit,
            ).where(AttributionCredit.conversion_id.in_(ids[i : i + 500]))
        ):
            if versions[c.conversion_id] == c.version:
                credits.append(
                    CreditRow(c.conversion_id, c.model, c.channel, Decimal(c.credit), Decimal(c.revenue_credit))
                )
    codes = sorted({(s.ref_code or "").lower() for s in sessions} | {(e.ref_code or "").lower() for e in events})
    codes = [c for c in codes if c]
    links: dict[str, LinkRef] = {}
    for i in range(0, len(codes), 500):
        for lnk in session.execute(
            select(TrackingLink.code, TrackingLink.id, TrackingLink.campaign_id, TrackingLink.influencer_id).where(
                TrackingLink.account_id == account_id, TrackingLink.code.in_(codes[i : i + 500])
            )
        ):
            links[lnk.code.lower()] = LinkRef(lnk.id, lnk.campaign_id, lnk.influencer_id)
    return DayInput(sessions, events, clicks, conversions, credits, links)


def rebuild_day(session: Session, account_id: str, day: date, tz: ZoneInfo, today: date) -> int:
    """Replace the rollups of one local day with cells computed from raw rows. Returns the cell count."""
    start, end = day_bounds(day, tz)
    hourly = day >= today - timedelta(days=HOURLY_DAYS)
    cells = rollup_day(load_day(session, account_id, start, end), tz, hourly=hourly)
    session.execute(delete(ReportRollup).where(ReportRollup.account_id == account_id, ReportRollup.day == day))
    rows = [
        {
            "account_id": account_id,
            "grain": grain,
            "day": d,
            "hour": hour,
            "dimension": dimension,
            "dim_value": dim_value,
            "metric": metric,
            "sub_key": sub,
            "value": value,
        }
        for (grain, d, hour, dimension, dim_value, metric, sub), value in cells.items()
        if d == day and value != 0
    ]
    for i in range(0, len(rows), _CHUNK):
        session.execute(insert(ReportRollup), rows[i : i + _CHUNK])
    return len(rows)


def prune_hourly(session: Session, account_id: str, today: date) -> None:
    session.execute(
        delete(ReportRollup).where(
            ReportRollup.account_id == account_id,
            ReportRollup.grain == "hour",
            ReportRollup.day < today - timedelta(days=HOURLY_DAYS),
        )
    )


def mark_days(session: Session, account_id: str, days: Iterable[date]) -> None:
    """Make these local days stale (in the caller's transaction, beside the raw rows it writes)."""
    ordered = sorted(set(days))
    if not ordered:
        return
    dialect = session.get_bind().dialect.name
    rows = [{"account_id": account_id, "day": d, "generation": 1, "built_generation": 0} for d in ordered]
    if dialect in ("mysql", "mariadb"):
        upsert = mysql.insert(ReportBucket).values(rows)
        session.execute(upsert.on_duplicate_key_update(generation=ReportBucket.generation + 1))
    else:
        insert_or = sqlite.insert(ReportBucket).values(rows)
        session.execute(
            insert_or.on_conflict_do_update(
                index_elements=["account_id", "day"], set_={"generation": ReportBucket.generation + 1}
            )
        )


def stale_days(
    session: Session, account_id: str | None = None, limit: int = 1000, built_before: datetime | None = None
) -> list[tuple[str, date]]:
    """Stale (account, day) buckets; with ``built_before``, only those not rebuilt since then."""
    query = select(ReportBucket.account_id, ReportBucket.day).where(
        ReportBucket.generation != ReportBucket.built_generation
    )
    if built_before is not None:
        query = query.where(or_(ReportBucket.built_at.is_(None), ReportBucket.built_at < built_before))
    if account_id is not None:
        query = query.where(ReportBucket.account_id == account_id)
    return [(r.account_id, r.day) for r in session.execute(query.order_by(ReportBucket.day).limit(limit))]


def _last_expired_day(session: Session, account_id: str, now: datetime, tz: ZoneInfo) -> date:
    """The latest local day whose raw rows retention may have deleted (partly, for the day itself)."""
    from multibuzz.privacy.retention import retention_horizon

    settings = session.scalar(select(Account.settings).where(Account.id == account_id)) or {}
    return local_day(retention_horizon(settings, now), tz)


def rebuild_bucket(session: Session, account_id: str, day: date, now: datetime) -> None:
    """Rebuild one (account, day) under its bucket-row lock, and record the generation built.

    Call it first thing in a fresh transaction: the lock comes before any read, so the rebuild's
    snapshot contains every transaction that bumped the generation it records."""
    bucket = session.execute(
        select(ReportBucket).where(ReportBucket.account_id == account_id, ReportBucket.day == day).with_for_update()
    ).scalar_one_or_none()
    built_before = bucket is not None and bucket.built_at is not None
    if bucket is None:
        session.add(ReportBucket(account_id=account_id, day=day, generation=1, built_generation=0))
        session.flush()
        generation = 1
    else:
        generation = bucket.generation
    tz = account_zone(session, account_id)
    today = local_day(now, tz)
    if not built_before or day > _last_expired_day(session, account_id, now, tz):
        rebuild_day(session, account_id, day, tz, today)
    # else: a day built before and now past the retention window: retention may have deleted its raw rows,
    # so a rebuild would shrink its rollup. It keeps what it counted (the day is only marked built).
    session.execute(
        update(ReportBucket)
        .where(ReportBucket.account_id == account_id, ReportBucket.day == day)
        .values(built_generation=generation, built_at=now)
    )
