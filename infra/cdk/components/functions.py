"""The seven functions, generated from ``topology.FUNCTIONS``: permissions follow what each spec declares."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from constructs import Construct
from multibuzz import topology

from infra.cdk import nag
from infra.cdk.components.common import camel
from infra.cdk.components.runtime import FunctionOptions, FunctionRuntime, function_code

HANDLER = "handler.lambda_handler"
SQS_MAX_BATCH_WITHOUT_WINDOW = 10
ESM_MIN_CONCURRENCY = 2  # the smallest maximum-concurrency an SQS event source mapping accepts


def consumer_max_concurrency(spec: topology.FunctionSpec) -> int | None:
    """Split a function's reserved concurrency over its queues, so pollers never outrun it (no throttled
    batches bouncing back to the queue and creeping towards the DLQ)."""
    if spec.reserved_concurrency is None or not spec.consumes:
        return None
    return max(ESM_MIN_CONCURRENCY, spec.reserved_concurrency // len(spec.consumes))


def check_consumer(spec: topology.FunctionSpec, consumer: topology.ConsumerSpec) -> None:
    """Fail the synth (not the deploy) on event source settings SQS/Lambda would reject."""
    queue = topology.queue(consumer.queue)
    if queue.fifo and consumer.max_batching_window_seconds:
        raise ValueError(f"{spec.name}: FIFO queue {queue.name!r} does not accept a batching window")
    limit = 10 if queue.fifo else 10_000
    if not 1 <= consumer.batch_size <= limit:
        raise ValueError(f"{spec.name}: batch size {consumer.batch_size} for {queue.name!r} must be 1..{limit}")
    if consumer.batch_size > SQS_MAX_BATCH_WITHOUT_WINDOW and consumer.max_batching_window_seconds < 1:
        raise ValueError(f"{spec.name}: batch size above 10 on {queue.name!r} needs a batching window >= 1 s")
    if not 0 <= consumer.max_batching_window_seconds <= 300:
        raise ValueError(f"{spec.name}: batching window on {queue.name!r} must be 0..300 s")


def _logical_id(bucket: s3.IBucket) -> str:
    stack = Stack.of(bucket)
    return str(stack.resolve(stack.get_logical_id(bucket.node.default_child)))  # type: ignore[arg-type]


class Functions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: FunctionRuntime,
        exports_bucket: s3.IBucket,
        functions_root: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.by_name: dict[str, lambda_.Function] = {}
        for spec in topology.FUNCTIONS:
            function = runtime.create(
                self,
                camel(spec.name),
                FunctionOptions(
                    name=spec.name,
                    description=spec.description,
                    code=function_code(spec, functions_root),
                    handler=HANDLER,
                    memory_mb=spec.memory_mb,
                    timeout_seconds=spec.timeout_seconds,
                    uses_database=spec.uses_database,
                    reserved_concurrency=spec.reserved_concurrency,
                ),
            )
            role = function.role
            assert role is not None
            for queue_name in spec.publishes:
                runtime.queues.queue(queue_name).grant_send_messages(role)
            if spec.operates_queues:  # admin: depths, dead letters read and re-driven to their own queue
                for pair in runtime.queues.pairs.values():
                    pair.queue.grant(role, "sqs:GetQueueAttributes")
                    pair.queue.grant_send_messages(role)
                    pair.dlq.grant_consume_messages(role)
            if spec.uses_bucket:
                # put_object, multipart uploads (PutObject covers create/upload part/complete; an abandoned one
                # is aborted), get_object and presigned GETs (signed with this role) are all it does.
                role.add_to_principal_policy(
                    iam.PolicyStatement(
                        actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                        resources=[exports_bucket.arn_for_objects("*")],
                    )
                )
                nag.acknowledge(
                    role,
                    f"AwsSolutions-IAM5[Resource::<{_logical_id(exports_bucket)}.Arn>/*]",
                    reason_key="AwsSolutions-IAM5[exports-objects]",
                )
            max_concurrency = consumer_max_concurrency(spec) if runtime.config.reserved_concurrency else None
            for consumer in spec.consumes:
                check_consumer(spec, consumer)
                function.add_event_source(
                    sources.SqsEventSource(
                        runtime.queues.queue(consumer.queue),
                        batch_size=consumer.batch_size,
                        max_batching_window=(
                            Duration.seconds(consumer.max_batching_window_seconds)
                            if consumer.max_batching_window_seconds
                            else None
                        ),
                        report_batch_item_failures=True,
                        max_concurrency=max_concurrency,
                    )
                )
            self.by_name[spec.name] = function

    @property
    def all(self) -> list[lambda_.Function]:
        return list(self.by_name.values())
