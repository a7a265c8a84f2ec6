"""Sync jobs: queued one per integration on the ``sync`` queue (schedules and manual requests alike).

The EventBridge schedule ``multibuzz.shopify_fresh`` (every 15 minutes) fans out one message per connected
store; ``POST /api/v1/settings/manual-sync`` and a new connection queue single runs. functions/sync
consumes the queue and runs each (multibuzz.commerce.shopify.sync.run, multibuzz.commerce.meta.jobs.run_manual).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select

from multibuzz.adapters.queue.base import OutgoingMessage, QueueUnavailableError
from multibuzz.bootstrap import Container
from multibuzz.clock import ensure_utc
from multibuzz.consumers.envelope import Envelope, dumps_envelope
from multibuzz.db.models.commerce import Integration, SyncRun
from multibuzz.jobs.registry import job
from multibuzz.observability import get_logger
from multibuzz.telemetry import metrics

logger = get_logger("commerce.jobs")
KIND = "sync.run"
RUNNERS_BY_PREFIX = ("shopify_", "meta_")
# SyncAge's ``sync_type`` dimension: the data a family of runs keeps fresh (the CDK SyncStale* alarms'
# keys, infra/cdk/components/monitoring.py SYNC_MAX_AGE) -> the integration type whose runs feed it.
SYNC_AGE_TYPES = {"shopify_orders": "shopify", "meta_insights": "meta"}


def request_sync(container: Container, integration: Integration, sync_type: str, trigger: str) -> bool:
    """Queue one run; False when the queue is down (the schedule catches up)."""
    body = dumps_envelope(
        KIND,
        f"sync:{integration.id}:{sync_type}:{container.ids.new('req')}",
        integration.account_id,
        {"integration_id": integration.id, "type": sync_type, "trigger": trigger},
    )
    try:
        results = container.queue.send_batch("sync", [OutgoingMessage(body)])
    except QueueUnavailableError:
        logger.warning("sync not queued: queue unavailable", extra={"integration_id": integration.id})
        return False
    return all(r.ok for r in results)


def run_message(container: Container, envelope: Envelope) -> dict[str, Any]:
    sync_type = str(envelope.payload.get("type"))
    integration_id = str(envelope.payload.get("integration_id"))
    trigger = str(envelope.payload.get("trigger") or "schedule")
    if sync_type.startswith("shopify_"):
        from multibuzz.commerce.shopify.sync import run

        return run(container, integration_id, sync_type, trigger)
    if sync_type.startswith("meta_"):
        from multibuzz.commerce.meta.jobs import run_manual

        return run_manual(container, integration_id, sync_type, trigger=trigger)
    return {"skipped": f"no runner for {sync_type}"}


@job("multibuzz.shopify_fresh")
def shopify_fresh(container: Container, detail: dict[str, Any]) -> dict[str, Any]:
    with container.session() as session:
        integrations = list(
            session.scalars(
                select(Integration).where(Integration.type == "shopify", Integration.status != "disconnected")
            )
        )
    queued = sum(1 for i in integrations if request_sync(container, i, "shopify_fresh", "schedule"))
    return {"queued": queued}


def sync_ages(container: Container) -> dict[str, float]:
    """Seconds since the freshest successful data, per ``SYNC_AGE_TYPES`` key: for each connected
    integration the end of its last succeeded run of any type (never succeeded: since it was connected),
    and of those the oldest — one stale store is an incident. Emitted as ``SyncAge`` (Maximum is alarmed);
    a family with no connected integration emits nothing."""
    now = container.clock.now()
    last_success = func.max(SyncRun.finished_at)
    with container.session() as session:
        rows = session.execute(
            select(Integration.type, Integration.connected_at, Integration.created_at, last_success)
            .outerjoin(SyncRun, and_(SyncRun.integration_id == Integration.id, SyncRun.status == "succeeded"))
            .where(Integration.status != "disconnected", Integration.type.in_(list(SYNC_AGE_TYPES.values())))
            .group_by(Integration.id, Integration.type, Integration.connected_at, Integration.created_at)
        ).all()
    ages: dict[str, float] = {}
    for family, integration_type in SYNC_AGE_TYPES.items():
        found = [
            (now - ensure_utc(last or connected or created)).total_seconds()
            for kind, connected, created, last in rows
            if kind == integration_type
        ]
        if found:
            ages[family] = max(0.0, max(found))
            metrics.observe(metrics.Metric.SYNC_AGE, ages[family], (("sync_type", family),))
    return ages
