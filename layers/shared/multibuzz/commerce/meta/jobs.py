"""The scheduled Meta job (``multibuzz.meta_sync``) and the entry a manual sync calls.

Importing this module registers the job (``multibuzz.jobs.all`` imports it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from multibuzz.jobs.registry import job

if TYPE_CHECKING:
    from multibuzz.bootstrap import Container

META_JOB = "multibuzz.meta_sync"


@job(META_JOB)
def meta_sync(container: Container, detail: dict[str, Any]) -> dict[str, Any]:
    """Every connected ad account: its first fill if none succeeded yet, else the fresh sync."""
    from multibuzz.commerce.meta.sync import sync_all

    return sync_all(container, detail)


def run_manual(
    container: Container, integration_id: str, sync_type: str, days: int | None = None, trigger: str = "manual"
) -> dict[str, Any]:
    """``POST /api/v1/settings/manual-sync`` with ``meta_7d_fill`` / ``meta_fresh`` for one ad account
    (``days``: a longer backfill than the configured fill or window), and the first fill a connection
    queues (``trigger="connect"``)."""
    from multibuzz.commerce.meta.sync import sync_all

    detail: dict[str, Any] = {"integration_id": integration_id, "type": sync_type, "trigger": trigger}
    if days:
        detail["days"] = days
    return sync_all(container, detail)
