"""Queue operations on SQS (moto's server, real HTTP): dead letters read without being consumed, and a
redrive that puts each one back on its queue exactly once (FIFO group ids kept)."""

from __future__ import annotations

import json
from typing import Any

import boto3
from multibuzz.adapters.queue.admin import SqsQueueAdmin


def _client(endpoint: str) -> Any:
    return boto3.session.Session().client("sqs", region_name="us-east-1", endpoint_url=endpoint)


def _pair(sqs: Any, name: str, fifo: bool) -> tuple[str, str]:
    suffix = ".fifo" if fifo else ""
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "false"} if fifo else {}
    dlq = sqs.create_queue(QueueName=f"{name}-dlq{suffix}", Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 1})
    source = sqs.create_queue(QueueName=f"{name}{suffix}", Attributes={**attributes, "RedrivePolicy": policy})
    return source["QueueUrl"], dlq


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages"):
        out.extend(got)
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def test_sqs_dead_letters_are_listed_then_redriven_once(moto_endpoint: str) -> None:
    sqs = _client(moto_endpoint)
    source, dlq = _pair(sqs, "multibuzz-admin-clicks", fifo=False)
    for i in range(13):
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"i": i}))
    admin = SqsQueueAdmin(lambda: _client(moto_endpoint), lambda q: source, lambda q: dlq)
    listed = admin.dead_letters("clicks", 50)
    assert sorted(json.loads(d.body)["i"] for d in listed) == list(range(13))
    assert admin.dead_letter_depth("clicks") == 13, "reading is not consuming"
    assert admin.dead_letters("clicks", 5) and len(admin.dead_letters("clicks", 5)) == 5
    assert admin.redrive("clicks") == 13
    assert admin.dead_letter_depth("clicks") == 0 and admin.depth("clicks") == 13
    assert admin.redrive("clicks") == 0
    bodies = sorted(json.loads(m["Body"])["i"] for m in _drain(sqs, source))
    assert bodies == list(range(13)), "each dead letter delivered exactly once"


def test_sqs_fifo_redrive_keeps_the_message_group(moto_endpoint: str) -> None:
    sqs = _client(moto_endpoint)
    source, dlq = _pair(sqs, "multibuzz-admin-ingest", fifo=True)
    for i in range(4):
        sqs.send_message(
            QueueUrl=dlq, MessageBody=f"m{i}", MessageGroupId=f"acc:vis_{i % 2}", MessageDeduplicationId=f"d{i}"
        )
    admin = SqsQueueAdmin(lambda: _client(moto_endpoint), lambda q: source, lambda q: dlq)
    assert {d.group_id for d in admin.dead_letters("ingest", 10)} == {"acc:vis_0", "acc:vis_1"}
    assert admin.redrive("ingest") == 4
    received = _drain(sqs, source)
    assert sorted(m["Body"] for m in received) == ["m0", "m1", "m2", "m3"]
    assert {m["Body"]: m["Attributes"]["MessageGroupId"] for m in received}["m3"] == "acc:vis_1"
