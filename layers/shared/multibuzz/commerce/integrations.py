"""The generic integration service every connector uses (Shopify, Meta).

- integrations: create (or reconnect), list, get (account scoped, 404 otherwise), disconnect;
- secrets: stored Fernet-encrypted with the deployment's encryption key, read back only here, never
  logged or returned by an API;
- sync runs: start / finish (success or a human-readable failure), the latest per type;
- cursors: read, and advance — callers advance a cursor in the same transaction as the rows it covers
  (or after they are committed), never before.

Functions take an open ``Session`` and leave the commit to the caller unless the name says otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, union_all
from sqlalchemy.orm import Session

from multibuzz.auth.crypto import SecretBox
from multibuzz.clock import Clock, ensure_utc
from multibuzz.db.models.commerce import Integration, IntegrationSecret, SyncCursor, SyncRun
from multibuzz.errors import InvalidInputError, NotFoundError
from multibuzz.ids import IdGenerator
from multibuzz.telemetry import metrics

INTEGRATION_TYPES = ("shopify", "meta")
INTEGRATION_STATUSES = ("connected", "disconnected", "error")
SYNC_TYPES = ("shopify_7d_fill", "shopify_fresh", "meta_7d_fill", "meta_fresh")
SYNC_TRIGGERS = ("schedule", "manual", "connect")
ACCESS_TOKEN = "access_token"
_MAX_ERROR = 2000


@dataclass(frozen=True, slots=True)
class Tools:
    """What the service needs besides a session: time, ids and the secret box."""

    clock: Clock
    ids: IdGenerator
    box: SecretBox


# -- integrations -----------------------------------------------------------------------------------


def connect(
    session: Session,
    tools: Tools,
    *,
    account_id: str,
    type: str,
    external_id: str,
    display_name: str | None = None,
    connect_method: str | None = None,
    scopes: str | None = None,
    config: dict[str, Any] | None = None,
) -> Integration:
    """Create the integration, or reconnect the existing one of that account, type and external id."""
    if type not in INTEGRATION_TYPES:
        raise InvalidInputError(f"type must be one of {', '.join(INTEGRATION_TYPES)}", field="type")
    now = tools.clock.now()
    row = session.scalars(
        select(Integration).where(
            Integration.account_id == account_id, Integration.type == type, Integration.external_id == external_id
        )
    ).one_or_none()
    if row is None:
        row = Integration(
            id=tools.ids.new("int"),
            account_id=account_id,
            type=type,
            external_id=external_id,
            config={},
            created_at=now,
        )
        session.add(row)
    row.status = "connected"
    row.display_name = display_name or row.display_name
    row.connect_method = connect_method or row.connect_method
    row.scopes = scopes or row.scopes
    if config:
        row.config = {**(row.config or {}), **config}
    row.last_error = None
    row.connected_at = now
    row.disconnected_at = None
    row.updated_at = now
    session.flush()
    return row


def list_integrations(session: Session, account_id: str, *, type: str | None = None) -> Sequence[Integration]:
    query = select(Integration).where(Integration.account_id == account_id)
    if type is not None:
        query = query.where(Integration.type == type)
    return session.scalars(query.order_by(Integration.created_at, Integration.id)).all()


def get_integration(session: Session, account_id: str, integration_id: str) -> Integration:
    """The integration of that account; any other id (another tenant's included) is a 404."""
    row = session.get(Integration, integration_id)
    if row is None or row.account_id != account_id:
        raise NotFoundError("integration not found")
    return row


def connected_by_external_id(session: Session, type: str, external_id: str) -> Sequence[Integration]:
    """Integrations of any account, not disconnected, for a third-party id (a webhook's shop domain)."""
    return session.scalars(
        select(Integration).where(
            Integration.type == type, Integration.external_id == external_id, Integration.status != "disconnected"
        )
    ).all()


def disconnect(session: Session, tools: Tools, integration: Integration) -> Integration:
    """Mark it disconnected and delete its secrets (the token is gone; data already synced stays)."""
    now = tools.clock.now()
    integration.status = "disconnected"
    integration.disconnected_at = now
    integration.updated_at = now
    session.execute(delete(IntegrationSecret).where(IntegrationSecret.integration_id == integration.id))
    session.flush()
    return integration


def mark_error(session: Session, tools: Tools, integration: Integration, message: str) -> None:
    """The connection itself is broken (token revoked, currency refused): shown in sync-status."""
    integration.status = "error"
    integration.last_error = message[:_MAX_ERROR]
    integration.updated_at = tools.clock.now()
    session.flush()


# -- secrets ----------------------------------------------------------------------------------------


def store_secret(
    session: Session, tools: Tools, integration: Integration, value: str, kind: str = ACCESS_TOKEN
) -> None:
    now = tools.clock.now()
    row = session.scalars(
        select(IntegrationSecret).where(
            IntegrationSecret.integration_id == integration.id, IntegrationSecret.kind == kind
        )
    ).one_or_none()
    ciphertext = tools.box.encrypt(value)
    if row is None:
        session.add(
            IntegrationSecret(
                id=tools.ids.new("sec"),
                account_id=integration.account_id,
                integration_id=integration.id,
                kind=kind,
                ciphertext=ciphertext,
                created_at=now,
                updated_at=now,
            )
        )
    else:
        row.ciphertext = ciphertext
        row.updated_at = now
    session.flush()


def read_secret(session: Session, box: SecretBox, integration_id: str, kind: str = ACCESS_TOKEN) -> str | None:
    ciphertext = session.scalar(
        select(IntegrationSecret.ciphertext).where(
            IntegrationSecret.integration_id == integration_id, IntegrationSecret.kind == kind
        )
    )
    return None if ciphertext is None else box.decrypt(ciphertext)


# -- sync runs --------------------------------------------------------------------------------------


def start_run(session: Session, tools: Tools, integration: Integration, type: str, trigger: str) -> SyncRun:
    if type not in SYNC_TYPES:
        raise InvalidInputError(f"type must be one of {', '.join(SYNC_TYPES)}", field="type")
    if trigger not in SYNC_TRIGGERS:
        raise InvalidInputError(f"trigger must be one of {', '.join(SYNC_TRIGGERS)}", field="trigger")
    run = SyncRun(
        id=tools.ids.new("syn"),
        account_id=integration.account_id,
        integration_id=integration.id,
        type=type,
        trigger=trigger,
        status="running",
        started_at=tools.clock.now(),
        rows=0,
        detail={},
    )
    session.add(run)
    session.flush()
    return run


def finish_run(
    session: Session,
    tools: Tools,
    run: SyncRun,
    *,
    rows: int,
    error_message: str | None = None,
    data_fresh_to: datetime | None = None,
    detail: dict[str, Any] | None = None,
) -> SyncRun:
    """Record the end of a run: ``error_message`` (for a person to read) makes it a failure."""
    run.finished_at = tools.clock.now()
    run.rows = rows
    run.status = "failed" if error_message else "succeeded"
    run.error_message = error_message[:_MAX_ERROR] if error_message else None
    run.data_fresh_to = data_fresh_to
    if detail:
        run.detail = {**(run.detail or {}), **detail}
    session.flush()
    dims = (("sync_type", run.type),)
    metrics.count(metrics.Metric.SYNC_ROWS, rows, dims)
    started = ensure_utc(run.started_at)
    metrics.observe(metrics.Metric.SYNC_DURATION, (ensure_utc(run.finished_at) - started).total_seconds() * 1000, dims)
    return run


def latest_runs(session: Session, integration_id: str) -> dict[str, dict[str, SyncRun | None]]:
    """Per sync type: the last attempted run and the last successful one."""
    found = latest_runs_of(session, [(integration_id, t) for t in SYNC_TYPES])
    return {t: entry for (_, t), entry in found.items()}


def latest_runs_of(
    session: Session, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, SyncRun | None]]:
    """Per (integration id, sync type) with any run: the last attempted run and the last successful one.

    Bounded however long the history (a 15-minute schedule writes ~35,000 runs a year and every Home page
    asks): one query takes each pair's newest run through the (integration_id, type, started_at) index
    (LIMIT 1 each, UNION ALL), and a second one, only for pairs whose newest run did not succeed, their newest
    successful run the same way.
    """
    heads = {(r.integration_id, r.type): r for r in _newest_runs(session, pairs, succeeded=False)}
    out: dict[tuple[str, str], dict[str, SyncRun | None]] = {
        pair: {"attempted": run, "succeeded": run if run.status == "succeeded" else None} for pair, run in heads.items()
    }
    missing = [pair for pair, entry in out.items() if entry["succeeded"] is None]
    for run in _newest_runs(session, missing, succeeded=True):
        out[(run.integration_id, run.type)]["succeeded"] = run
    return out


def _newest_runs(session: Session, pairs: Sequence[tuple[str, str]], *, succeeded: bool) -> Sequence[SyncRun]:
    if not pairs:
        return []
    parts = []
    for integration_id, sync_type in dict.fromkeys(pairs):
        query = select(SyncRun.id).where(SyncRun.integration_id == integration_id, SyncRun.type == sync_type)
        if succeeded:
            query = query.where(SyncRun.status == "succeeded")
        newest = query.order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1).subquery()
        parts.append(select(newest.c.id))
    ids = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    return session.scalars(select(SyncRun).where(SyncRun.id.in_(select(ids.c.id)))).all()


# -- cursors ----------------------------------------------------------------------------------------


def read_cursor(session: Session, integration_id: str, name: str) -> SyncCursor | None:
    return session.scalars(
        select(SyncCursor).where(SyncCursor.integration_id == integration_id, SyncCursor.name == name)
    ).one_or_none()


def advance_cursor(
    session: Session,
    tools: Tools,
    integration: Integration,
    name: str,
    value: str | None,
    data: dict[str, Any] | None = None,
) -> SyncCursor:
    """Set the cursor; call it in the transaction that commits the rows it covers."""
    row = read_cursor(session, integration.id, name)
    now = tools.clock.now()
    if row is None:
        row = SyncCursor(
            id=tools.ids.new("cur"),
            account_id=integration.account_id,
            integration_id=integration.id,
            name=name,
            data={},
        )
        session.add(row)
    row.value = value
    row.data = data if data is not None else (row.data or {})
    row.updated_at = now
    session.flush()
    return row
