"""Process SQS batches: one envelope per record, each kind's handler in a database transaction.

- Fast path: the whole batch in ONE transaction — with a set-based handler
  (``@handles_batch``) when every record has that kind and one account, else
  each record's handler in order. If it fails, everything is rolled back and
  the per-record path below runs, so a poison message still fails alone.
- Per record: Powertools' batch processors — FIFO queues stop at the first
  failure (later records of the batch are reported failed, keeping order);
  standard queues report each failed record. A record that keeps failing is
  moved to the DLQ by the queue's redrive policy (SQS) or the local dispatcher.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from multibuzz.bootstrap import get_container
from multibuzz.consumers.envelope import Envelope
from multibuzz.consumers.registry import batch_handler_for, handler_for
from multibuzz.observability import get_logger
from multibuzz.reports.maintain import mark_touched, refresh_after_commit
from multibuzz.telemetry import correlation, metrics, tracing
from multibuzz.telemetry.invocation import invocation

logger = get_logger()
FUNCTION = "attribution"


def _stored(envelope: Envelope, message_id: str) -> None:
    """One line per stored message, with the request it came from: the consumer end of a request's path."""
    logger.info(
        "message stored",
        extra={
            "kind": envelope.kind,
            "message_id": message_id,
            "envelope_id": envelope.id,
            "account_id": envelope.account_id,
            "correlation_id": envelope.correlation_id,
        },
    )


def process_record(record: SQSRecord) -> None:
    token = correlation.set_current(correlation.from_sqs_record(record.raw_event))
    try:
        envelope = Envelope.loads(record.body, correlation.current())
        tracing.annotate("message_kind", envelope.kind)
        tracing.annotate("account_id", envelope.account_id)
        handler = handler_for(envelope.kind)
        container = get_container()
        with container.session() as session, metrics.transaction():
            try:
                handler(envelope, session, container)
                touched = mark_touched(session, [(envelope.kind, envelope.account_id, envelope.payload)])
                session.commit()
            except Exception:
                session.rollback()
                logger.exception(
                    "message failed",
                    extra={"kind": envelope.kind, "message_id": record.message_id, "account_id": envelope.account_id},
                )
                raise
        refresh_after_commit(container, touched)
        _stored(envelope, record.message_id)
    finally:
        correlation.reset(token)


def _try_batch(records: list[dict[str, Any]]) -> bool:
    """The fast path: the whole batch in ONE transaction. False to fall back to per-record processing.

    A homogeneous batch (one kind with a set-based handler, one account) uses that handler; any other
    batch runs each record's own handler in order, which is what the per-record path does minus one
    commit (and its round trips) per record.
    """
    if len(records) < 2:
        return False
    try:
        envelopes = [Envelope.loads(r["body"], correlation.from_sqs_record(r)) for r in records]
        handlers = [handler_for(e.kind) for e in envelopes]
    except (ValueError, TypeError, KeyError):
        return False  # a malformed or unknown message: let the per-record path isolate it
    kinds = {e.kind for e in envelopes}
    batch_handler = batch_handler_for(envelopes[0].kind) if len(kinds) == 1 else None
    if batch_handler is not None and len({e.account_id for e in envelopes}) != 1:
        batch_handler = None
    container = get_container()
    with container.session() as session, metrics.transaction() as counted:
        try:
            if batch_handler is not None:
                batch_handler(envelopes, session, container)
            else:
                for envelope, handler in zip(envelopes, handlers, strict=True):
                    token = correlation.set_current(envelope.correlation_id)
                    try:
                        handler(envelope, session, container)
                    finally:
                        correlation.reset(token)
            touched = mark_touched(session, [(e.kind, e.account_id, e.payload) for e in envelopes])
            session.commit()
        except Exception:
            session.rollback()
            counted.discard()
            logger.warning("batch transaction failed; retrying record by record", exc_info=True)
            return False
    refresh_after_commit(container, touched)
    tracing.annotate("message_kind", envelopes[0].kind if len(kinds) == 1 else "mixed")
    tracing.annotate("account_id", envelopes[0].account_id)
    for envelope, record in zip(envelopes, records, strict=True):
        _stored(envelope, str(record.get("messageId", "")))
    return True


def queue_name(records: list[dict[str, Any]]) -> str:
    """The topology name of the records' queue (the metric dimension), from the event source ARN."""
    from multibuzz import topology

    arn = str(records[0].get("eventSourceARN", "")) if records else ""
    name = arn.rsplit(":", 1)[-1].removesuffix(".fifo")
    for spec in topology.QUEUES:
        if name == spec.name or name.endswith(f"-{spec.name}"):
            return spec.name
    return "unknown"


def handle_sqs_batch(event: dict[str, Any], context: Any, *, function: str = FUNCTION) -> dict[str, Any]:
    with invocation(function, None, flush=True):
        records = event.get("Records") or []
        dimensions = (("queue", queue_name(records)),)
        metrics.observe(metrics.Metric.BATCH_SIZE, len(records), dimensions)
        try:
            response = _handle(event, context, records)
        except Exception:  # every record failed (Powertools raises): the whole batch returns to the queue
            metrics.count(metrics.Metric.BATCH_PARTIAL_FAILURES, len(records), dimensions)
            raise
        metrics.count(metrics.Metric.BATCH_PARTIAL_FAILURES, len(response["batchItemFailures"]), dimensions)
        return response


def _handle(event: dict[str, Any], context: Any, records: list[dict[str, Any]]) -> dict[str, Any]:
    if _try_batch(records):
        return {"batchItemFailures": []}
    is_fifo = bool(records) and str(records[0].get("eventSourceARN", "")).endswith(".fifo")
    # FIFO: a failure stops its own message group only; other visitors' groups in the batch go on.
    processor = (
        SqsFifoPartialProcessor(skip_group_on_error=True) if is_fifo else BatchProcessor(event_type=EventType.SQS)
    )
    response = process_partial_response(
        event=event, record_handler=process_record, processor=processor, context=context
    )
    return dict(response)
