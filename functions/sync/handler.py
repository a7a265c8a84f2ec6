"""functions/sync: EventBridge-scheduled jobs, chosen by the event's detail-type."""

from typing import Any

import multibuzz.jobs.all  # noqa: F401 - registers the jobs
from multibuzz.bootstrap import get_container
from multibuzz.jobs.registry import job_for
from multibuzz.observability import get_logger
from multibuzz.telemetry import tracing
from multibuzz.telemetry.invocation import invocation

logger = get_logger("sync")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    detail_type = str(event.get("detail-type", ""))
    with invocation("sync", str(event.get("id") or "") or None, flush=True):
        tracing.annotate("message_kind", detail_type)
        job = job_for(detail_type)
        result = job(get_container(), dict(event.get("detail") or {}))
        logger.info("job finished", extra={"job": detail_type, "result": result})
    return {"job": detail_type, "result": result}
