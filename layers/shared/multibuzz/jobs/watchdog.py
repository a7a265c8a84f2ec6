"""The business-signal watchdog: accounts that normally send events and went silent.

A metric cannot carry an account id (unbounded dimension), so "zero accepted events for an hour on an
account that normally sends" is computed here, from the events table, every quarter of an hour: an account
is *normally sending* when it stored at least ``WATCHDOG_MIN_WEEKLY_EVENTS`` events over the last 7 days
(before the last hour), and *silent* when none arrived in the last hour. The count goes out as the
``SilentAccounts`` metric (the alarm's signal, 0 included); the ids go to the log line beside it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from multibuzz.bootstrap import Container
from multibuzz.db.models import Account, Event
from multibuzz.jobs.registry import job
from multibuzz.observability import get_logger
from multibuzz.telemetry import metrics

DETAIL_TYPE = "multibuzz.watchdog"
WATCHDOG_MIN_WEEKLY_EVENTS = 50
SILENCE = timedelta(hours=1)
HABIT = timedelta(days=7)

logger = get_logger("sync")


def silent_accounts(container: Container, min_weekly_events: int = WATCHDOG_MIN_WEEKLY_EVENTS) -> list[str]:
    now = container.clock.now()
    recent, habit_start = now - SILENCE, now - HABIT
    silent = []
    with container.session() as session:
        accounts = session.scalars(select(Account.id).where(Account.status == "active").order_by(Account.id)).all()
        for account_id in accounts:  # two index range reads per account (account_id, occurred_at)
            e = Event.__table__.c
            heard = session.execute(
                select(e.id).where(e.account_id == account_id, e.occurred_at >= recent).limit(1)
            ).first()
            if heard is not None:
                continue
            usual = session.execute(
                select(e.id)
                .where(e.account_id == account_id, e.occurred_at >= habit_start, e.occurred_at < recent)
                .limit(min_weekly_events)
            ).all()
            if len(usual) >= min_weekly_events:
                silent.append(account_id)
    return silent


@job(DETAIL_TYPE)
def watchdog(container: Container, detail: dict[str, Any]) -> dict[str, Any]:
    threshold = int(detail.get("min_weekly_events") or WATCHDOG_MIN_WEEKLY_EVENTS)
    silent = silent_accounts(container, threshold)
    metrics.observe(metrics.Metric.SILENT_ACCOUNTS, len(silent))
    if silent:
        logger.warning("accounts went silent (no events for an hour)", extra={"account_ids": silent})
    from multibuzz.commerce.jobs import sync_ages

    return {"silent_accounts": silent, "sync_age_seconds": sync_ages(container)}
