"""SQS: one queue per ``topology.QUEUES`` entry, each with its own dead-letter queue and redrive policy."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Tags
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from multibuzz import topology

from infra.cdk.components.common import camel

DLQ_RETENTION = Duration.days(14)  # the SQS maximum: time to notice, fix and redrive
QUEUE_TAG = "multibuzz:queue"
DLQ_TAG = "multibuzz:dlq-for"


@dataclass(frozen=True)
class QueuePair:
    spec: topology.QueueSpec
    queue: sqs.Queue
    dlq: sqs.Queue


def consumer_timeout_seconds(queue_name: str) -> int:
    """Longest timeout among the functions consuming ``queue_name`` (0 when nobody consumes it)."""
    return max(
        (fn.timeout_seconds for fn in topology.FUNCTIONS for c in fn.consumes if c.queue == queue_name),
        default=0,
    )


def visibility_timeout_seconds(spec: topology.QueueSpec) -> int:
    """The topology's value, raised to the consumers' timeout if needed (SQS rejects a shorter one for Lambda)."""
    return max(spec.visibility_timeout_seconds, consumer_timeout_seconds(spec.name))


class Queues(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.pairs: dict[str, QueuePair] = {}
        for spec in topology.QUEUES:
            fifo_options = (
                {
                    "fifo": True,
                    # Producers set explicit deduplication ids (event id, webhook id); bodies may repeat legitimately.
                    "content_based_deduplication": False,
                    # High-throughput FIFO: dedupe and throughput limits per message group (= per visitor).
                    "deduplication_scope": sqs.DeduplicationScope.MESSAGE_GROUP,
                    "fifo_throughput_limit": sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
                }
                if spec.fifo
                else {}
            )
            base = camel(spec.name)
            dlq = sqs.Queue(
                self,
                f"{base}Dlq",
                fifo=True if spec.fifo else None,
                retention_period=DLQ_RETENTION,
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
            )
            queue = sqs.Queue(
                self,
                f"{base}Queue",
                visibility_timeout=Duration.seconds(visibility_timeout_seconds(spec)),
                retention_period=Duration.days(spec.retention_days),
                dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=spec.max_receive_count),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                **fifo_options,  # type: ignore[arg-type]
            )
            Tags.of(queue).add(QUEUE_TAG, spec.name)
            Tags.of(dlq).add(DLQ_TAG, spec.name)
            self.pairs[spec.name] = QueuePair(spec, queue, dlq)

    def queue(self, name: str) -> sqs.Queue:
        return self.pairs[name].queue
