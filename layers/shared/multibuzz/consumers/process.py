"""Process SQS batches: one envelope per record, each kind's handler in a database transaction.

- Batch kinds (``@handles_batch``): when every record of a batch has the same
  batchable kind and account, the whole batch is applied in ONE transaction
  with set-based queries (the fast path). If that fails, it falls back to the
  per-record path below, so a poison message still fails alone.
- Per record: Powertools' batch processors — FIFO queues stop at the first
  failure (later records of the batch are reported failed, keeping order);
  standard queues report each failed record. A record that keeps failing is
  moved to the DLQ by the queue's redrive policy (SQS) or the local dispatcher.
"""

from __future__ import annotations

import json
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

logger = get_logger()


def process_record(record: SQSRecord) -> None:
    envelope = Envelope.loads(record.body)
    handler = handler_for(envelope.kind)
    container = get_container()
    with container.session() as session:
        try:
            handler(envelope, session, container)
            session.commit()
        except Exception:
            session.rollback()
            logger.exception(
                "message failed",
                extra={"kind": envelope.kind, "message_id": record.message_id, "account_id": envelope.account_id},
            )
            raise


def _try_batch(records: list[dict[str, Any]]) -> bool:
    """The fast path. True when the whole batch was applied; False to fall back to per-record."""
    if len(records) < 2:
        return False
    try:
        envelopes = [Envelope.loads(r["body"]) for r in records]
    except (ValueError, TypeError, json.JSONDecodeError):
        return False
    kinds = {e.kind for e in envelopes}
    accounts = {e.account_id for e in envelopes}
    if len(kinds) != 1 or len(accounts) != 1:
        return False
    handler = batch_handler_for(envelopes[0].kind)
    if handler is None:
        return False
    container = get_container()
    with container.session() as session:
        try:
            handler(envelopes, session, container)
            session.commit()
            return True
        except Exception:
            session.rollback()
            logger.warning(
                "batch path failed; retrying record by record", extra={"kind": envelopes[0].kind}, exc_info=True
            )
            return False


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
