"""functions/sync: EventBridge-scheduled jobs (chosen by the event's detail-type) and queued sync runs.

A schedule job may fan out: ``multibuzz.shopify_fresh`` queues one run per connected store on the
``sync`` queue; each record of that queue is one run (multibuzz.commerce.jobs.run_message).
"""

from typing import Any

import multibuzz.jobs.all  # noqa: F401 - registers the jobs
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from multibuzz.bootstrap import get_container
from multibuzz.commerce.jobs import run_message
from multibuzz.consumers.envelope import Envelope
from multibuzz.jobs.registry import job_for
from multibuzz.observability import get_logger
from multibuzz.telemetry import correlation, tracing
from multibuzz.telemetry.invocation import invocation

logger = get_logger("sync")
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    token = correlation.set_current(correlation.from_sqs_record(record.raw_event))  # a manual sync's request
    try:
        result = run_message(get_container(), Envelope.loads(record.body, correlation.current()))
        logger.info("sync run finished", extra={"result": result})
    finally:
        correlation.reset(token)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "Records" in event:
        with invocation("sync", None, flush=True):  # SyncRows / SyncDuration of the run, flushed per batch
            return process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
    detail_type = str(event.get("detail-type", ""))
    with invocation("sync", str(event.get("id") or "") or None, flush=True):
        tracing.annotate("message_kind", detail_type)
        job = job_for(detail_type)
        result = job(get_container(), dict(event.get("detail") or {}))
        logger.info("job finished", extra={"job": detail_type, "result": result})
    return {"job": detail_type, "result": result}
