"""Connect a Meta ad account and sync its insights (``meta_7d_fill``, ``meta_fresh``).

Both syncs read ``level=ad``, ``time_increment=1`` insights of the ads whose ``effective_status`` is ACTIVE
or PAUSED, for a date range in the ad account's time zone ending today: the fill covers
``meta_fill_days`` (7 by default; ``detail.days`` for a longer backfill), the fresh sync re-fetches the
attribution window (``meta_attribution_window_days``, 28 by default) because Meta revises those days.
A range longer than ``meta_async_min_days`` goes through an async report run.

Resumable by construction: the sync's state (range, mode, report run id, ``paging.cursors.after``) lives in
``sync_cursors`` and advances in the same transaction as the rows of the page it covers. A run that
stops (throttled after every retry, Meta down, the process killed) leaves the cursor at the last committed
page; the next run of that type resumes there. Rows are upserts on ``(integration_id, ad_id, date,
level)``, so a page fetched twice never duplicates. After the last page the aggregates of the range are
rebuilt and the run is recorded as succeeded; any failure is recorded with a readable message.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, select
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from multibuzz.auth.crypto import SecretBox
from multibuzz.clock import Clock, ensure_utc
from multibuzz.commerce import aggregates
from multibuzz.commerce import integrations as svc
from multibuzz.commerce.meta.graph import (
    Backoff,
    GraphClient,
    MetaAuthError,
    MetaError,
    MetaThrottledError,
    MetaUnavailableError,
)
from multibuzz.commerce.meta.insights import ACTIVE_OR_PAUSED, INSIGHT_FIELDS, InsightRowError, fact_values
from multibuzz.db.models import Account
from multibuzz.db.models.commerce import AdAccount, FactMetaDaily, Integration, MetaInsightRaw, SyncRun
from multibuzz.errors import InvalidInputError, NotFoundError, ServiceUnavailableError
from multibuzz.ids import IdGenerator
from multibuzz.settings import Settings

if TYPE_CHECKING:
    from multibuzz.bootstrap import Container

logger = logging.getLogger("multibuzz.meta")

META_SYNC_TYPES = ("meta_7d_fill", "meta_fresh")
AD_ACCOUNT_ID = re.compile(r"^(act_)?([0-9]{1,20})$")
LEVEL = "ad"
IN_PROGRESS = "in_progress"
RUN_LEASE = dt.timedelta(minutes=15)  # the sync function's timeout: a run "running" for longer has died
COMPLETE = "complete"
_FACT_UPDATE = (
    "ad_account_id",
    "ad_name",
    "adset_id",
    "adset_name",
    "campaign_id",
    "campaign_name",
    "currency",
    "spend",
    "impressions",
    "clicks",
    "purchases",
    "purchase_value",
    "synced_at",
)


def normalize_ad_account_id(value: str) -> str:
    match = AD_ACCOUNT_ID.match(value.strip())
    if not match:
        raise InvalidInputError("ad_account_id must be act_<digits> or the digits alone", field="ad_account_id")
    return f"act_{match.group(2)}"


@dataclass(frozen=True)
class SyncOutcome:
    run_id: str
    type: str
    status: str  # succeeded | failed | skipped
    rows: int
    error_message: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    resumed: bool = False
    throttled: int = 0


@dataclass
class MetaSync:
    """The Meta connector. Built from the container in production; tests inject ``sleep`` and ``rng``."""

    session_factory: sessionmaker[Session]
    clock: Clock
    ids: IdGenerator
    box: SecretBox
    settings: Settings
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    poll_seconds: float = 2.0
    max_polls: int = 300

    @classmethod
    def from_container(cls, container: Container, **overrides: Any) -> MetaSync:
        return cls(
            container.session_factory,
            container.clock,
            container.ids,
            container.secret_box,
            container.settings,
            **overrides,
        )

    @property
    def tools(self) -> svc.Tools:
        return svc.Tools(self.clock, self.ids, self.box)

    def client(self, token: str, *, max_retries: int | None = None) -> GraphClient:
        s = self.settings
        return GraphClient(
            s.meta_graph_url,
            token,
            app_secret=s.meta_app_secret.get_secret_value() if s.meta_app_secret else None,
            timeout=s.meta_request_timeout_seconds,
            max_retries=s.meta_max_retries if max_retries is None else max_retries,
            backoff=Backoff(s.meta_backoff_base_seconds, s.meta_backoff_max_seconds, self.rng),
            sleep=self.sleep,
        )

    # -- connect --------------------------------------------------------------------------------------
    def connect(self, session: Session, account_id: str, ad_account_id: str, access_token: str) -> Integration:
        """Verify the token and ad account with Meta, refuse another currency, store the token encrypted."""
        act = normalize_ad_account_id(ad_account_id)
        account = session.get(Account, account_id)
        if account is None:
            raise NotFoundError("account not found")
        try:
            with self.client(access_token, max_retries=1) as graph:
                info = graph.get(act, {"fields": "currency,name,timezone_name"})
        except MetaAuthError as exc:
            raise InvalidInputError(exc.message, field="access_token") from exc
        except (MetaThrottledError, MetaUnavailableError) as exc:
            raise ServiceUnavailableError(f"{exc.message.split(' after ')[0]}; try again shortly") from exc
        except MetaError as exc:
            raise InvalidInputError(
                f"Meta has no ad account {act} that this token can read ({exc.message})", field="ad_account_id"
            ) from exc
        currency = str(info.get("currency") or "").upper()
        if currency != account.currency:
            raise InvalidInputError(
                f"The Meta ad account {act} reports spend in {currency or 'an unknown currency'} but this account "
                f"reports in {account.currency}; amounts are never converted, so connect an ad account in "
                f"{account.currency} or change the account's currency first",
                field="ad_account_id",
            )
        zone = str(info.get("timezone_name") or account.timezone)
        name = str(info.get("name") or act)
        tools = self.tools
        integration = svc.connect(
            session,
            tools,
            account_id=account_id,
            type="meta",
            external_id=act,
            display_name=name,
            connect_method="token",
            config={"currency": currency, "timezone": zone},
        )
        now = self.clock.now()
        row = session.scalars(
            select(AdAccount).where(AdAccount.account_id == account_id, AdAccount.platform_account_id == act)
        ).one_or_none()
        if row is None:
            row = AdAccount(
                id=self.ids.new("ada"),
                account_id=account_id,
                platform="meta",
                platform_account_id=act,
                created_at=now,
            )
            session.add(row)
        row.integration_id = integration.id
        row.name, row.currency, row.timezone, row.updated_at = name, currency, zone, now
        svc.store_secret(session, tools, integration, access_token)
        session.flush()
        return integration

    # -- sync -----------------------------------------------------------------------------------------
    def run(
        self, integration_id: str, sync_type: str, trigger: str = "schedule", days: int | None = None
    ) -> SyncOutcome:
        if sync_type not in META_SYNC_TYPES:
            raise InvalidInputError(f"type must be one of {', '.join(META_SYNC_TYPES)}", field="type")
        with self.session_factory() as session:
            integration = session.get(Integration, integration_id)
            if integration is None or integration.type != "meta":
                raise NotFoundError("Meta integration not found")
            if integration.status == "disconnected":
                raise InvalidInputError("the Meta ad account is disconnected; connect it again", field="type")
            busy = self._claim(session, integration_id, sync_type)
            if busy is not None:
                return SyncOutcome(busy, sync_type, "skipped", 0, "a sync of this type is already running")
            run = svc.start_run(session, self.tools, integration, sync_type, trigger)
            session.commit()
            run_id = run.id
        progress = {"rows": 0}  # rows committed by this run, read when it stops half-way
        throttled = 0
        state: dict[str, Any] = {}
        try:
            state, resumed = self._begin(integration_id, sync_type, days)
            token = self._token(integration_id)
            with self.client(token) as graph:
                try:
                    self._pages(graph, integration_id, sync_type, state, progress)
                finally:
                    throttled = graph.throttled
            rows = progress["rows"]
            since, until = dt.date.fromisoformat(state["since"]), dt.date.fromisoformat(state["until"])
            with self.session_factory() as session:
                integration = session.get_one(Integration, integration_id)
                aggregates.rebuild_after_meta(session, integration.account_id, since, until, self.clock.now())
                svc.advance_cursor(
                    session,
                    self.tools,
                    integration,
                    sync_type,
                    COMPLETE,
                    {"since": state["since"], "until": state["until"], "completed_at": self.clock.now().isoformat()},
                )
                run = session.get_one(SyncRun, run_id)
                svc.finish_run(
                    session,
                    self.tools,
                    run,
                    rows=rows,
                    data_fresh_to=self.clock.now(),
                    detail={
                        "since": state["since"],
                        "until": state["until"],
                        "mode": state["mode"],
                        "resumed": resumed,
                        "throttled": throttled,
                        "skipped_rows": state.get("skipped", 0),
                    },
                )
                if integration.status == "error":
                    integration.status, integration.last_error = "connected", None
                session.commit()
            return SyncOutcome(run_id, sync_type, "succeeded", rows, None, since, until, resumed, throttled)
        except MetaError as exc:
            return self._fail(
                run_id,
                integration_id,
                sync_type,
                progress["rows"],
                exc.message,
                state,
                auth=isinstance(exc, MetaAuthError),
            )
        except Exception as exc:  # recorded for the person reading sync-status, then raised for the logs/DLQ
            logger.exception("meta sync failed", extra={"integration_id": integration_id, "type": sync_type})
            self._fail(
                run_id,
                integration_id,
                sync_type,
                progress["rows"],
                f"internal error ({type(exc).__name__}); the sync resumes from its saved position on the next run",
                state,
                auth=False,
            )
            raise

    def _claim(self, session: Session, integration_id: str, sync_type: str) -> str | None:
        """The id of a live run of this type (then this one is skipped); runs older than the sync function's
        timeout that never finished (the process died) are closed as failed — a later run resumes their cursor."""
        cutoff = self.clock.now() - RUN_LEASE
        running = session.scalars(
            select(SyncRun).where(
                SyncRun.integration_id == integration_id, SyncRun.type == sync_type, SyncRun.status == "running"
            )
        ).all()
        for run in running:
            if run.started_at > cutoff:
                return run.id
            svc.finish_run(
                session,
                self.tools,
                run,
                rows=run.rows,
                error_message="the sync stopped without finishing (timeout or crash); the next run resumed it "
                "from its saved position",
            )
        return None

    def _fail(
        self,
        run_id: str,
        integration_id: str,
        sync_type: str,
        rows: int,
        message: str,
        state: dict[str, Any],
        *,
        auth: bool,
    ) -> SyncOutcome:
        with self.session_factory() as session:
            run = session.get_one(SyncRun, run_id)
            svc.finish_run(session, self.tools, run, rows=rows, error_message=message, detail={"state": state})
            if auth:
                svc.mark_error(session, self.tools, session.get_one(Integration, integration_id), message)
            session.commit()
        logger.warning(
            "meta sync failed", extra={"integration_id": integration_id, "type": sync_type, "error": message}
        )
        return SyncOutcome(run_id, sync_type, "failed", rows, message)

    def _token(self, integration_id: str) -> str:
        with self.session_factory() as session:
            token = svc.read_secret(session, self.box, integration_id)
        if token is None:
            raise MetaAuthError("no access token is stored for this ad account; connect it again")
        return token

    def _begin(self, integration_id: str, sync_type: str, days: int | None) -> tuple[dict[str, Any], bool]:
        """The state to run with: the unfinished one of the last run of this type, or a new range."""
        with self.session_factory() as session:
            integration = session.get_one(Integration, integration_id)
            cursor = svc.read_cursor(session, integration_id, sync_type)
            if cursor is not None and cursor.value == IN_PROGRESS and cursor.data.get("since"):
                return dict(cursor.data), True
            ad = session.scalars(select(AdAccount).where(AdAccount.integration_id == integration_id)).first()
            zone = (ad.timezone if ad else None) or aggregates.account_locale(session, integration.account_id)[0]
            today = self.clock.now().astimezone(ZoneInfo(zone)).date()
            if days is None:
                days = (
                    self.settings.meta_fill_days
                    if sync_type == "meta_7d_fill"
                    else self.settings.meta_attribution_window_days
                )
            since = today - dt.timedelta(days=days - 1)
            state = {
                "act": integration.external_id,
                "currency": (ad.currency if ad else None) or integration.config.get("currency") or "USD",
                "since": since.isoformat(),
                "until": today.isoformat(),
                "mode": "async" if days >= self.settings.meta_async_min_days else "paged",
                "report_run_id": None,
                "after": None,
                "pages": 0,
                "skipped": 0,
            }
            svc.advance_cursor(session, self.tools, integration, sync_type, IN_PROGRESS, state)
            session.commit()
            return state, False

    def _params(self, state: dict[str, Any]) -> dict[str, Any]:
        return {
            "level": LEVEL,
            "time_increment": 1,
            "time_range": {"since": state["since"], "until": state["until"]},
            "filtering": ACTIVE_OR_PAUSED,
            "fields": INSIGHT_FIELDS,
            "limit": self.settings.meta_page_size,
        }

    def _save_state(self, integration_id: str, sync_type: str, state: dict[str, Any]) -> None:
        with self.session_factory() as session:
            integration = session.get_one(Integration, integration_id)
            svc.advance_cursor(session, self.tools, integration, sync_type, IN_PROGRESS, dict(state))
            session.commit()

    def _report_run(self, graph: GraphClient, integration_id: str, sync_type: str, state: dict[str, Any]) -> str:
        """The async report run of this state: started (and saved) once, polled until complete."""
        for _restart in range(2):
            if not state.get("report_run_id"):
                started = graph.post(f"{state['act']}/insights", self._params(state))
                state["report_run_id"] = str(started["report_run_id"])
                state["after"] = None  # a new run's cursors are its own; rows already stored are upserted again
                self._save_state(integration_id, sync_type, state)
            run_id = str(state["report_run_id"])
            try:
                for _ in range(self.max_polls):
                    status = graph.get(run_id)
                    if status.get("async_status") == "Job Completed":
                        return run_id
                    if status.get("async_status") in ("Job Failed", "Job Skipped"):
                        raise MetaError(f"Meta's report run {run_id} ended with status {status.get('async_status')}")
                    self.sleep(self.poll_seconds)
            except MetaError as exc:
                if isinstance(exc, MetaAuthError | MetaThrottledError | MetaUnavailableError) or _restart:
                    raise
                state["report_run_id"] = None  # expired or failed: start a new run once
                continue
            raise MetaError(f"Meta's report run {run_id} did not complete in {self.max_polls} polls")
        raise MetaError("Meta's report run could not be completed")

    def _pages(
        self, graph: GraphClient, integration_id: str, sync_type: str, state: dict[str, Any], progress: dict[str, int]
    ) -> None:
        path = f"{state['act']}/insights"
        if state["mode"] == "async":
            path = f"{self._report_run(graph, integration_id, sync_type, state)}/insights"

        with self.session_factory() as session:
            integration = session.get_one(Integration, integration_id)
            owner = RowOwner(integration.account_id, integration.id, integration.external_id, state["currency"])
            on_mysql = session.get_bind().dialect.name in ("mysql", "mariadb")

        def fetch(after: str | None) -> tuple[dict[str, Any], PreparedPage]:
            params: dict[str, Any] = (
                {"limit": self.settings.meta_page_size} if state["mode"] == "async" else self._params(state)
            )
            if after:
                params["after"] = after
            page = graph.get(path, params)
            return page, prepare_rows(owner, page.get("data") or [], self.clock.now(), mysql=on_mysql)

        # The next page is fetched and prepared while this one is written (its cursor is in this page's answer);
        # it is committed only after this one, so the saved cursor still never passes an uncommitted row.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="meta-page") as pool:
            upcoming = pool.submit(fetch, state.get("after"))
            while True:
                page, prepared = upcoming.result()
                paging = page.get("paging") or {}
                after = (paging.get("cursors") or {}).get("after")
                more = bool(paging.get("next")) and bool(after) and bool(page.get("data"))
                if more:
                    upcoming = pool.submit(fetch, after)
                with self.session_factory() as session:  # the page's rows and the cursor past them: one commit
                    write_rows(session, prepared)
                    state["after"] = after if more else None
                    state["pages"] = int(state.get("pages", 0)) + 1
                    state["skipped"] = int(state.get("skipped", 0)) + prepared.skipped
                    integration = session.get_one(Integration, integration_id)
                    svc.advance_cursor(session, self.tools, integration, sync_type, IN_PROGRESS, dict(state))
                    session.commit()
                progress["rows"] += prepared.count
                if not more:
                    return

    def store_rows(
        self, session: Session, integration: Integration, currency: str, data: Sequence[dict[str, Any]]
    ) -> tuple[int, int]:
        """Upsert raw and fact rows of one page; a row that cannot be read is skipped (and counted)."""
        owner = RowOwner(integration.account_id, integration.id, integration.external_id, currency)
        mysql_bind = session.get_bind().dialect.name in ("mysql", "mariadb")
        prepared = prepare_rows(owner, data, self.clock.now(), mysql=mysql_bind)
        write_rows(session, prepared)
        return prepared.count, prepared.skipped


@dataclass(frozen=True, slots=True)
class RowOwner:
    account_id: str
    integration_id: str
    ad_account_id: str  # act_<id>
    currency: str


@dataclass(slots=True)
class PreparedPage:
    """One page's rows, ready for the database: tuples for the MySQL driver, dicts for SQLAlchemy (SQLite)."""

    mysql: bool
    raw: list[Any]
    facts: list[Any]
    skipped: int

    @property
    def count(self) -> int:
        return len(self.facts)


_KEY = ("integration_id", "ad_id", "date", "level")
_RAW_COLUMNS = ("account_id", "integration_id", "ad_id", "date", "level", "fetched_at", "payload")
_FACT_COLUMNS = ("account_id", "integration_id", "ad_id", "date", "level", *_FACT_UPDATE)
_VALUE_COLUMNS = ("ad_name", "adset_id", "adset_name", "campaign_id", "campaign_name")
_MEASURES = ("spend", "impressions", "clicks", "purchases", "purchase_value")


def prepare_rows(owner: RowOwner, data: Sequence[dict[str, Any]], now: datetime, *, mysql: bool) -> PreparedPage:
    """Parse one page (pure); a row that cannot be read is skipped and counted, never stored half."""
    raw: list[Any] = []
    facts: list[Any] = []
    skipped = 0
    if mysql:  # the values the models' types would bind: naive UTC datetimes, compact JSON text
        naive = ensure_utc(now).replace(tzinfo=None)
        for row in data:
            try:
                v = fact_values(row)
            except InsightRowError:
                skipped += 1
                continue
            key = (owner.account_id, owner.integration_id, v["ad_id"], v["date"], LEVEL)
            raw.append((*key, naive, json.dumps(row, separators=(",", ":"))))
            facts.append(
                (
                    *key,
                    owner.ad_account_id,
                    *(v[c] for c in _VALUE_COLUMNS),
                    owner.currency,
                    *(v[c] for c in _MEASURES),
                    naive,
                )
            )
        return PreparedPage(True, raw, facts, skipped)
    for row in data:
        try:
            values = fact_values(row)
        except InsightRowError:
            skipped += 1
            continue
        key_map = {
            "account_id": owner.account_id,
            "integration_id": owner.integration_id,
            "ad_id": values["ad_id"],
            "date": values["date"],
            "level": LEVEL,
        }
        raw.append({**key_map, "fetched_at": now, "payload": row})
        facts.append(
            {**key_map, **values, "ad_account_id": owner.ad_account_id, "currency": owner.currency, "synced_at": now}
        )
    return PreparedPage(False, raw, facts, skipped)


def write_rows(session: Session, prepared: PreparedPage) -> None:
    if not prepared.facts:
        return
    if prepared.mysql:  # tuples straight to the driver's multi-row executemany (no per-row ORM binding)
        connection = session.connection()
        connection.exec_driver_sql(_RAW_SQL, prepared.raw)
        connection.exec_driver_sql(_FACT_SQL, prepared.facts)
    else:
        upsert(session, MetaInsightRaw.__table__, prepared.raw, ("fetched_at", "payload"))  # type: ignore[arg-type]
        upsert(session, FactMetaDaily.__table__, prepared.facts, _FACT_UPDATE)  # type: ignore[arg-type]


def _upsert_sql(table: str, columns: Sequence[str], update: Sequence[str]) -> str:
    placeholders = ", ".join(["%s"] * len(columns))
    updates = ", ".join(f"`{c}` = VALUES(`{c}`)" for c in update)
    names = ", ".join(f"`{c}`" for c in columns)
    sql = f"INSERT INTO `{table}` ({names}) VALUES ({placeholders}) ON DUPLICATE KEY UPDATE {updates}"  # noqa: S608
    return sql  # (table and column names are constants of this module)


_RAW_SQL = _upsert_sql("meta_insights_raw", _RAW_COLUMNS, ("fetched_at", "payload"))
_FACT_SQL = _upsert_sql("fact_meta_daily", _FACT_COLUMNS, _FACT_UPDATE)


def upsert(session: Session, table: Table, rows: list[dict[str, Any]], update: Sequence[str]) -> None:
    """Insert, or update ``update`` on the unique key (SQLAlchemy's dialect upserts; executemany)."""
    dialect = session.get_bind().dialect.name
    if dialect in ("mysql", "mariadb"):
        my = mysql.insert(table)
        session.execute(my.on_duplicate_key_update({c: my.inserted[c] for c in update}), rows)
    else:
        lite = sqlite.insert(table)
        session.execute(
            lite.on_conflict_do_update(index_elements=list(_KEY), set_={c: lite.excluded[c] for c in update}), rows
        )


def connected_meta_integrations(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(Integration.id).where(Integration.type == "meta", Integration.status.in_(("connected", "error")))
        )
    )


def needs_fill(session: Session, integration_id: str) -> bool:
    latest = svc.latest_runs(session, integration_id).get("meta_7d_fill")
    return latest is None or latest["succeeded"] is None


def fresh_due(session: Session, integration_id: str, not_since: datetime) -> bool:
    """No fresh sync succeeded since ``not_since`` (an unfinished one is always resumed)."""
    cursor = svc.read_cursor(session, integration_id, "meta_fresh")
    if cursor is not None and cursor.value == IN_PROGRESS:
        return True
    latest = svc.latest_runs(session, integration_id).get("meta_fresh")
    succeeded = latest["succeeded"] if latest else None
    return succeeded is None or succeeded.started_at < not_since


def sync_all(container: Container, detail: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """The scheduled job: a first fill where none succeeded yet, else the fresh sync; one failure never stops
    the others. ``detail`` may name ``integration_id``, ``type`` and ``days`` (a manual sync)."""
    meta = MetaSync.from_container(container, **overrides)
    with container.session() as session:
        ids = [str(detail["integration_id"])] if detail.get("integration_id") else connected_meta_integrations(session)
        plan = []
        interval = dt.timedelta(hours=container.settings.meta_fresh_interval_hours)
        for integration_id in ids:
            if detail.get("type"):
                plan.append((integration_id, str(detail["type"])))
            elif needs_fill(session, integration_id):
                plan.append((integration_id, "meta_7d_fill"))
            elif fresh_due(session, integration_id, container.clock.now() - interval):
                plan.append((integration_id, "meta_fresh"))
    trigger = str(detail.get("trigger") or "schedule")
    days = int(detail["days"]) if detail.get("days") else None
    results = []
    for integration_id, sync_type in plan:
        try:
            outcome = meta.run(integration_id, sync_type, trigger, days)
            results.append(
                {
                    "integration_id": integration_id,
                    "type": sync_type,
                    "status": outcome.status,
                    "rows": outcome.rows,
                    "error": outcome.error_message,
                }
            )
        except Exception as exc:
            results.append(
                {"integration_id": integration_id, "type": sync_type, "status": "failed", "error": type(exc).__name__}
            )
    return {"integrations": len(plan), "results": results}
