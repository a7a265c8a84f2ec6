"""Process one SQS record: parse the envelope, run its handler in one database transaction.

Batch handling uses Powertools' batch processors: FIFO queues stop at the first
failure (later messages of the batch are reported failed so order is kept);
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
from multibuzz.consumers.registry import handler_for
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
                extra={
                    "kind": envelope.kind,
                    "message_id": record.message_id,
                    "account_id": envelope.account_id,
                },
            )
            raise


def handle_sqs_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") or []
    is_fifo = bool(records) and str(records[0].get("eventSourceARN", "")).endswith(".fifo")
    processor = SqsFifoPartialProcessor() if is_fifo else BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(event=event, record_handler=process_record, processor=processor, context=context)
