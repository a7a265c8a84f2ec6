"""Raw-data retention: per account, raw rows past their window are deleted in bounded batches.

- ``raw_event_retention_days`` (default 400): events by ``occurred_at``, sessions by their last activity,
  visitors (cookie ids) by ``last_seen_at``; a conversion that pointed at a deleted visitor keeps its
  revenue and credits (``visitor_id`` becomes null).
- ``click_retention_days`` (default: kept): link clicks by ``occurred_at`` and their unique-click hashes.
- Kept: conversions, attribution credits, model fits, identities (erased on request), and everything the
  reports read.

Attribution first: while a conversion is still pending, nothing it could still use as a touch (the
longest lookback, 365 days, before it) is deleted. Every statement touches at most ``batch_size`` rows
and is committed on its own, so no statement holds locks for long (MySQL): batches start at 500 rows
and adapt so a delete takes about 0.1 s (halved above 0.2 s, doubled below 0.05 s, never above
``batch_size``); ``on_statement`` sees how long each took (the benchmark reports the longest).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, func, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from multibuzz.db.models import Account, Conversion, Event, Visitor, VisitSession
from multibuzz.db.models.influencer import Click, ClickDedup

DEFAULT_RAW_EVENT_RETENTION_DAYS = 400
LONGEST_LOOKBACK = timedelta(days=365)

OnStatement = Callable[[str, float], None]
# A delete statement should hold its row locks about this long: the batch halves when one takes more than
# twice this, and doubles (up to ``batch_size``) when one takes less than half. It starts at START_ROWS.
TARGET_STATEMENT_SECONDS = 0.1
START_ROWS = 500
MIN_ROWS = 50


@dataclass
class RetentionReport:
    deleted: dict[str, int] = field(default_factory=dict)
    statements: int = 0
    longest_statement_seconds: float = 0.0

    def add(self, table: str, n: int) -> None:
        self.deleted[table] = self.deleted.get(table, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {
            **{f"{table}_deleted": n for table, n in sorted(self.deleted.items())},
            "statements": self.statements,
            "longest_statement_ms": round(self.longest_statement_seconds * 1000, 1),
        }


def _days(settings: dict[str, Any], key: str, default: int | None) -> int | None:
    value = settings.get(key, default)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def retention_horizon(settings: dict[str, Any], now: datetime) -> datetime:
    """The instant before which retention may have deleted raw rows the reports were built from (the later
    of the raw-event and click cutoffs). Report days starting before it are never rebuilt from raw rows
    (multibuzz.reports.store.rebuild_bucket): their rollups keep what they counted."""
    raw_days = _days(settings, "raw_event_retention_days", DEFAULT_RAW_EVENT_RETENTION_DAYS)
    assert raw_days is not None
    click_days = _days(settings, "click_retention_days", None)
    return now - timedelta(days=min(raw_days, click_days or raw_days))


class _Runner:
    def __init__(self, factory: sessionmaker[Session], batch_size: int, on_statement: OnStatement | None) -> None:
        self.factory = factory
        self.batch_size = batch_size
        self.rows = min(batch_size, START_ROWS)  # the current batch, adapted to how long deletes take
        self.on_statement = on_statement
        self.report = RetentionReport()

    def _adapt(self, elapsed: float) -> None:
        if elapsed > 2 * TARGET_STATEMENT_SECONDS:
            self.rows = max(MIN_ROWS, self.rows // 2)
        elif elapsed < TARGET_STATEMENT_SECONDS / 2:
            self.rows = min(self.batch_size, self.rows * 2)

    def _timed(self, session: Session, label: str, statement: Any) -> Any:
        started = time.perf_counter()
        result = session.execute(statement)
        elapsed = time.perf_counter() - started
        if label.startswith("delete"):
            self._adapt(elapsed)
        self.report.statements += 1
        self.report.longest_statement_seconds = max(self.report.longest_statement_seconds, elapsed)
        if self.on_statement is not None:
            self.on_statement(label, elapsed)
        return result

    def by_index(self, table: Table, key: Any, condition: ColumnElement[bool], order: Any) -> None:
        """Delete the rows matching ``condition`` (served by an index on ``order``), a batch at a time.

        Each batch starts where the previous one ended (``order >= `` its last value): the index entries of
        rows just deleted may not be purged yet, and scanning them again and again made selects slow."""
        floor: Any = None
        while True:
            with self.factory() as session:
                query = select(key, order).where(condition).order_by(order).limit(self.rows)
                if floor is not None:
                    query = query.where(order >= floor)
                rows = self._timed(session, f"select {table.name}", query).all()
                if not rows:
                    return
                ids = [row[0] for row in rows]
                floor = rows[-1][1]
                self._before_delete(session, table, ids)
                self._timed(session, f"delete {table.name}", delete(table).where(key.in_(ids)))
                session.commit()
            self.report.add(table.name, len(ids))

    def by_key_range(self, table: Table, key: Any, condition: ColumnElement[bool]) -> None:
        """Walk the primary key in ranges of ``batch_size`` and delete what matches in each (no index needed)."""
        after: Any = None
        while True:
            with self.factory() as session:
                page = select(key).order_by(key).limit(self.rows)
                if after is not None:
                    page = page.where(key > after)
                bounds = list(self._timed(session, f"page {table.name}", page).scalars())
                if not bounds:
                    return
                window = (key >= bounds[0]) & (key <= bounds[-1])
                ids = list(self._timed(session, f"select {table.name}", select(key).where(window, condition)).scalars())
                if ids:
                    self._before_delete(session, table, ids)
                    self._timed(session, f"delete {table.name}", delete(table).where(key.in_(ids)))
                session.commit()
                after = bounds[-1]
            if ids:
                self.report.add(table.name, len(ids))

    def _before_delete(self, session: Session, table: Table, ids: list[Any]) -> None:
        if table.name == "visitors":  # conversions keep their revenue and credits, without the visitor
            self._timed(
                session,
                "detach conversions",
                update(Conversion).where(Conversion.visitor_id.in_(ids)).values(visitor_id=None),
            )


def _table(model: Any) -> Table:
    return model.__table__


def apply_raw_retention(
    factory: sessionmaker[Session], now: datetime, *, batch_size: int = 5000, on_statement: OnStatement | None = None
) -> RetentionReport:
    runner = _Runner(factory, batch_size, on_statement)
    with factory() as session:
        accounts = [(a, s or {}) for a, s in session.execute(select(Account.id, Account.settings))]
    for account_id, settings in accounts:
        raw_days = _days(settings, "raw_event_retention_days", DEFAULT_RAW_EVENT_RETENTION_DAYS)
        assert raw_days is not None
        cutoff = now - timedelta(days=raw_days)
        with factory() as session:
            oldest_pending = session.scalar(
                select(func.min(Conversion.occurred_at)).where(
                    Conversion.account_id == account_id, Conversion.status == "pending"
                )
            )
        if oldest_pending is not None:
            cutoff = min(cutoff, oldest_pending - LONGEST_LOOKBACK)
        e, s, v = _table(Event).c, _table(VisitSession).c, _table(Visitor).c
        runner.by_index(_table(Event), e.id, (e.account_id == account_id) & (e.occurred_at < cutoff), e.occurred_at)
        runner.by_index(
            _table(VisitSession),
            s.id,
            (s.account_id == account_id) & (s.started_at < cutoff) & (s.last_activity_at < cutoff),
            s.started_at,
        )
        runner.by_key_range(_table(Visitor), v.id, (v.account_id == account_id) & (v.last_seen_at < cutoff))
        click_days = _days(settings, "click_retention_days", None)
        if click_days is not None:
            click_cutoff = now - timedelta(days=click_days)
            c, d = _table(Click).c, _table(ClickDedup).c
            runner.by_index(
                _table(Click), c.id, (c.account_id == account_id) & (c.occurred_at < click_cutoff), c.occurred_at
            )
            dedup = _table(ClickDedup)
            with factory() as session:  # whole hours, one statement per batch of rows
                while True:
                    rows = runner._timed(
                        session,
                        "select click_dedup",
                        select(d.link_id, d.visitor_hash, d.hour)
                        .where(d.account_id == account_id, d.hour < click_cutoff)
                        .limit(runner.rows),
                    ).all()
                    if not rows:
                        break
                    runner._timed(
                        session,
                        "delete click_dedup",
                        delete(dedup).where(tuple_(d.link_id, d.visitor_hash, d.hour).in_([tuple(r) for r in rows])),
                    )
                    session.commit()
                    runner.report.add("click_dedup", len(rows))
    return runner.report
