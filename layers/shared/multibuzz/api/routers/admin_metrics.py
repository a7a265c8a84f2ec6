"""``GET /api/v1/admin/metrics``: the metrics this process has flushed, summarised (platform admins only).

Locally the whole stack (gateway, functions, consumers) runs in one process, so this is every number the
EMF lines in the log carry, without AWS. On AWS each Lambda environment has its own process: the figures
are CloudWatch's (the ``Multibuzz`` namespace and the stage's dashboard); here they are this environment's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from multibuzz.errors import PermissionDeniedError
from multibuzz.http.deps import ContainerDep, CurrentActor
from multibuzz.telemetry import metrics

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


class MetricSummaryOut(BaseModel):
    function: str = Field(description="the function that emitted it (EMF dimension)")
    metric: str
    dimensions: dict[str, str] = Field(description="extra bounded dimensions (reason, queue, sync_type)")
    unit: str
    sum: float
    samples: int | None = Field(default=None, description="observed metrics: how many data points")
    min: float | None = None
    max: float | None = None
    p50: float | None = Field(default=None, description="over the last 1000 data points")
    p99: float | None = None


class MetricsOut(BaseModel):
    namespace: str
    stage: str
    scope: str = Field(description="process: what this process flushed since it started")
    since: datetime
    metrics: list[MetricSummaryOut]


@router.get("/metrics", summary="Metrics summary (platform admins)", response_model=MetricsOut)
def admin_metrics(actor: CurrentActor, container: ContainerDep) -> dict[str, Any]:
    if not actor.is_platform_admin:
        raise PermissionDeniedError("only platform admins see the metrics")
    metrics.flush()  # what this process recorded and has not flushed yet (the API's own counters)
    return {
        "namespace": metrics.NAMESPACE,
        "stage": container.settings.stage,
        "scope": "process",
        "since": datetime.fromtimestamp(metrics.recorder.started, UTC),
        "metrics": metrics.summary(),
    }
