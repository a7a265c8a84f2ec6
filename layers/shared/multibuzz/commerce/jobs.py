"""Sync jobs: queued one per integration on the ``sync`` queue (schedules and manual requests alike).

The EventBridge schedule ``multibuzz.shopify_fresh`` (every 15 minutes) fans out one message per connected
store; ``POST /api/v1/settings/manual-sync`` and a new connection queue single runs. functions/sync
consumes the queue and runs each (multibuzz.commerce.shopify.sync.run, multibuzz.commerce.meta.jobs.run_manual).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from multibuzz.adapters.queue.base import OutgoingMessage, QueueUnavailableError
from multibuzz.bootstrap import Container
from multibuzz.consumers.envelope import Envelope, dumps_envelope
from multibuzz.db.models.commerce import Integration
from multibuzz.jobs.registry import job
from multibuzz.observability import get_logger

logger = get_logger("commerce.jobs")
KIND = "sync.run"
RUNNERS_BY_PREFIX = ("shopify_", "meta_")


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

        return run_manual(container, integration_id, sync_type)
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
