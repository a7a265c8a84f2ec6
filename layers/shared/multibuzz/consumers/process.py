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

logger = get_logger()


def process_record(record: SQSRecord) -> None:
    envelope = Envelope.loads(record.body)
    handler = handler_for(envelope.kind)
    container = get_container()
    with container.session() as session:
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


def _try_batch(records: list[dict[str, Any]]) -> bool:
    """The fast path: the whole batch in ONE transaction. False to fall back to per-record processing.

    A homogeneous batch (one kind with a set-based handler, one account) uses that handler; any other
    batch runs each record's own handler in order, which is what the per-record path does minus one
    commit (and its round trips) per record.
    """
    if len(records) < 2:
        return False
    try:
        envelopes = [Envelope.loads(r["body"]) for r in records]
        handlers = [handler_for(e.kind) for e in envelopes]
    except (ValueError, TypeError, KeyError):
        return False  # a malformed or unknown message: let the per-record path isolate it
    kinds = {e.kind for e in envelopes}
    batch_handler = batch_handler_for(envelopes[0].kind) if len(kinds) == 1 else None
    if batch_handler is not None and len({e.account_id for e in envelopes}) != 1:
        batch_handler = None
    container = get_container()
    with container.session() as session:
        try:
            if batch_handler is not None:
                batch_handler(envelopes, session, container)
            else:
                for envelope, handler in zip(envelopes, handlers, strict=True):
                    handler(envelope, session, container)
            touched = mark_touched(session, [(e.kind, e.account_id, e.payload) for e in envelopes])
            session.commit()
        except Exception:
            session.rollback()
            logger.warning("batch transaction failed; retrying record by record", exc_info=True)
            return False
    refresh_after_commit(container, touched)
    return True


def handle_sqs_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") or []
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
