"""Keeping rollups current from the consumers, and rebuilding them on demand.

The consumer calls :func:`mark_touched` inside the message transaction (the local days its messages
wrote raw rows for become stale) and :func:`refresh` after the commit (stale days rebuilt, each in its
own transaction). A refresh that fails leaves its days stale; the next refresh (any later message of the
account, or ``python -m multibuzz.reports refresh``) rebuilds them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from multibuzz.clock import ensure_utc
from multibuzz.db.models import Account, Conversion, Identity
from multibuzz.observability import get_logger
from multibuzz.reports.store import account_zone, local_day, mark_days, rebuild_bucket, stale_days

logger = get_logger()

_REATTRIBUTION_DAYS = 400  # identify may re-attribute conversions this old at most (lookbacks are shorter)


def _at(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return ensure_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def touched_instants(session: Session, kind: str, account_id: str, payload: dict[str, Any]) -> list[datetime]:
    """When the raw rows a message writes happened (their local days become stale)."""
    out: list[datetime | None] = []
    if kind == "events.track":
        out = [_at(raw.get("at")) for raw in payload.get("events") or [] if isinstance(raw, dict)]
    elif kind == "session.hit":
        out = [_at(payload.get("at"))]
    elif kind == "click.record":
        out = [_at(payload.get("occurred_at"))]
    elif kind == "conversion.attribute":
        out = list(
            session.scalars(
                select(Conversion.occurred_at).where(
                    Conversion.id == str(payload.get("conversion_id", "")), Conversion.account_id == account_id
                )
            )
        )
    elif kind == "identify":  # identify can re-attribute the identity's conversions
        out = [_at(payload.get("at"))]
        identity = session.scalar(
            select(Identity.id).where(Identity.account_id == account_id, Identity.user_id == str(payload.get("uid")))
        )
        if identity is not None:
            since = (out[0] or datetime.now().astimezone()) - timedelta(days=_REATTRIBUTION_DAYS)
            out += list(
                session.scalars(
                    select(Conversion.occurred_at).where(
                        Conversion.account_id == account_id,
                        Conversion.identity_id == identity,
                        Conversion.occurred_at >= since,
                    )
                )
            )
    return [ensure_utc(at) for at in out if at is not None]


def mark_touched(session: Session, messages: Iterable[tuple[str, str, dict[str, Any]]]) -> set[str]:
    """Bump the days of ``(kind, account_id, payload)`` messages; returns the accounts touched."""
    instants: dict[str, list[datetime]] = defaultdict(list)
    for kind, account_id, payload in messages:
        instants[account_id] += touched_instants(session, kind, account_id, payload)
    touched = set()
    for account_id, ats in sorted(instants.items()):
        name = session.scalar(select(Account.timezone).where(Account.id == account_id)) if ats else None
        if name is None:
            continue  # nothing to count, or a message for an unknown account (its handler dropped it)
        tz = account_zone(session, account_id)
        mark_days(session, account_id, {local_day(at, tz) for at in ats})
        touched.add(account_id)
    return touched


def refresh(
    session_factory: Any, now: datetime, account_ids: Iterable[str] | None = None, min_seconds: float = 0.0
) -> int:
    """Rebuild every stale day (of these accounts, or all) not rebuilt in the last ``min_seconds``.
    Returns the number of days rebuilt."""
    since = now - timedelta(seconds=min_seconds) if min_seconds else None
    with session_factory() as session:
        if account_ids is None:
            todo = stale_days(session, built_before=since)
        else:
            todo = [
                d
                for account_id in sorted(set(account_ids))
                for d in stale_days(session, account_id, built_before=since)
            ]
    done = 0
    for account_id, day in todo:
        with session_factory() as session:
            try:
                rebuild_bucket(session, account_id, day, now)
                session.commit()
                done += 1
            except Exception:
                session.rollback()
                logger.warning(
                    "rollup refresh failed; the day stays stale",
                    exc_info=True,
                    extra={"account_id": account_id, "day": day.isoformat()},
                )
    return done


def rebuild(session_factory: Any, now: datetime, account_id: str, first: date, last: date) -> int:
    """Recompute the rollups of local days ``first``..``last`` from raw rows (the rebuild command)."""
    with session_factory() as session:
        mark_days(session, account_id, [first + timedelta(days=i) for i in range((last - first).days + 1)])
        session.commit()
    done = 0
    day = first
    while day <= last:
        with session_factory() as session:
            rebuild_bucket(session, account_id, day, now)
            session.commit()
        done += 1
        day += timedelta(days=1)
    return done


def refresh_after_commit(container: Any, account_ids: set[str]) -> None:
    """The consumer's refresh: never fails the message (its raw rows are committed; stale days wait)."""
    if not account_ids or not container.settings.reports_refresh_in_consumer:
        return
    try:
        refresh(
            container.session_factory,
            container.clock.now(),
            account_ids,
            container.settings.reports_refresh_min_seconds,
        )
    except Exception:
        logger.warning("rollup refresh failed; the days stay stale", exc_info=True)
