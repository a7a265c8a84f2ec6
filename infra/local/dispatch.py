"""Deliver local-queue messages to consumer handlers as SQS events, honouring batchItemFailures.

A failed record is retried with exponential backoff and moved to the dead-letter
store after ``max_attempts`` receives, as an SQS redrive policy would.
"""

from __future__ import annotations

import hashlib
import importlib
import threading
from dataclasses import dataclass
from typing import Any

from multibuzz import topology
from multibuzz.adapters.queue.local import LocalQueue, ReceivedMessage
from multibuzz.observability import get_logger
from multibuzz.settings import Settings

from infra.local.lambda_context import LocalLambdaContext

logger = get_logger("dispatch")


@dataclass
class DeliveryReport:
    received: int = 0
    succeeded: int = 0
    retried: int = 0
    dead: int = 0


def queue_arn(queue: str, region: str = "us-east-1") -> str:
    suffix = ".fifo" if topology.queue(queue).fifo else ""
    return f"arn:aws:sqs:{region}:000000000000:multibuzz-local-{queue}{suffix}"


def sqs_record(message: ReceivedMessage, region: str = "us-east-1") -> dict[str, Any]:
    sent_ms = str(int(message.sent_at * 1000))
    attributes = {
        "ApproximateReceiveCount": str(message.receive_count),
        "SentTimestamp": sent_ms,
        "SenderId": "local",
        "ApproximateFirstReceiveTimestamp": sent_ms,
    }
    if message.group_id is not None:
        attributes["MessageGroupId"] = message.group_id
        attributes["SequenceNumber"] = str(message.sequence)
        if message.dedup_id:
            attributes["MessageDeduplicationId"] = message.dedup_id
    return {
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": {
            key: {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String"}
            for key, value in message.attributes.items()
        },
        "md5OfBody": hashlib.md5(message.body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn(message.queue, region),
        "awsRegion": region,
    }


def deliver_once(
    store: LocalQueue,
    queue: str,
    handler: Any,
    *,
    function: str = "consumer",
    batch_size: int = 10,
    max_attempts: int = 5,
    backoff_seconds: float = 1.0,
    visibility_timeout: float | None = None,
) -> DeliveryReport:
    """Receive one batch, invoke ``handler`` with it, and settle each message."""
    spec = topology.queue(queue)
    timeout = visibility_timeout if visibility_timeout is not None else spec.visibility_timeout_seconds
    messages = store.receive(queue, batch_size, timeout)
    report = DeliveryReport(received=len(messages))
    if not messages:
        return report
    event = {"Records": [sqs_record(m) for m in messages]}
    failed: set[str]
    reason = "reported in batchItemFailures"
    try:
        result = handler(event, LocalLambdaContext(function))
        failures = (result or {}).get("batchItemFailures") or []
        failed = {str(item["itemIdentifier"]) for item in failures}
    except Exception as exc:  # the whole invocation failed: every message returns to the queue
        logger.exception("consumer invocation failed", extra={"queue": queue})
        failed = {m.message_id for m in messages}
        reason = f"invocation failed: {type(exc).__name__}"
    done = [message.receipt_handle for message in messages if message.message_id not in failed]
    store.delete_batch(queue, done)  # one transaction for the batch's successes
    report.succeeded = len(done)
    for message in messages:
        if message.message_id not in failed:
            continue
        if message.receive_count >= max_attempts:
            store.dead_letter(queue, message.receipt_handle, reason)
            report.dead += 1
            logger.warning("message dead-lettered", extra={"queue": queue, "message_id": message.message_id})
        else:
            delay = backoff_seconds * (2 ** (message.receive_count - 1))
            store.release(queue, message.receipt_handle, min(delay, 300.0))
            report.retried += 1
    return report


def local_batch_size(consumer: topology.ConsumerSpec, settings: Settings) -> int:
    """Messages per invocation in the local runner: the topology's batch size (what SQS hands the Lambda),
    except for the ingest queue, which gets ``settings.local_ingest_batch_size``.

    A batch of single-event messages costs the tracking consumer a fixed amount (the visitors' and
    sessions' reads and upserts, the rollup days, one commit, the queue's receive and delete) plus a little
    per event, so 10 per invocation stored ~400-600 events/s here while the API accepted thousands. On AWS
    the consumer keeps up through concurrency (one Lambda per batch, FIFO groups spread over them); the
    local runner is one process, so it spreads the fixed cost over bigger batches. The handler is the same:
    a batch is applied as its messages would be one after another (multibuzz.consumers.registry), and a
    batch that fails falls back to one transaction per message.
    """
    if consumer.queue == "ingest":
        return max(consumer.batch_size, settings.local_ingest_batch_size)
    return consumer.batch_size


def load_handler(function: str) -> Any:
    return importlib.import_module(topology.function(function).handler_module).lambda_handler


class ConsumerThread(threading.Thread):
    """Polls one queue and feeds its consumer until stopped."""

    def __init__(
        self,
        store: LocalQueue,
        function: str,
        consumer: topology.ConsumerSpec,
        *,
        max_attempts: int,
        backoff_seconds: float,
        idle_sleep: float = 0.05,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(name=f"consumer-{consumer.queue}", daemon=True)
        self.store = store
        self.function = function
        self.consumer = consumer
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.idle_sleep = idle_sleep
        self.batch_size = batch_size or consumer.batch_size
        self.stop_event = threading.Event()

    def run(self) -> None:
        handler = load_handler(self.function)
        while not self.stop_event.is_set():
            try:
                report = deliver_once(
                    self.store,
                    self.consumer.queue,
                    handler,
                    function=self.function,
                    batch_size=self.batch_size,
                    max_attempts=self.max_attempts,
                    backoff_seconds=self.backoff_seconds,
                )
            except Exception:
                logger.exception("dispatcher error", extra={"queue": self.consumer.queue})
                report = DeliveryReport()
            if report.received == 0:
                self.stop_event.wait(self.idle_sleep)

    def stop(self) -> None:
        self.stop_event.set()
