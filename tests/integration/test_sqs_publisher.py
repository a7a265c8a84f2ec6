"""The SQS publisher against moto's server (real HTTP round trips)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from multibuzz.adapters.queue.base import OutgoingMessage, QueueUnavailableError, send_one
from multibuzz.adapters.queue.sqs import SqsPublisher


def _client(endpoint: str) -> Any:
    return boto3.session.Session().client("sqs", region_name="us-east-1", endpoint_url=endpoint)


def test_fifo_batches_carry_group_and_dedup_ids(moto_endpoint: str) -> None:
    sqs = _client(moto_endpoint)
    url = sqs.create_queue(
        QueueName="multibuzz-test-ingest.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"},
    )["QueueUrl"]
    publisher = SqsPublisher(lambda: _client(moto_endpoint), lambda name: url)
    messages = [OutgoingMessage(json.dumps({"i": i}), group_id=f"vis_{i % 2}", dedup_id=f"evt_{i}") for i in range(23)]
    results = publisher.send_batch("ingest", messages)
    assert [r.index for r in results] == list(range(23)) and all(r.ok for r in results)
    # A retry with the same dedup id is swallowed by SQS itself.
    publisher.send_batch("ingest", messages[:3])
    received: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
        if not got:
            break
        received.extend(got)
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert sorted(json.loads(m["Body"])["i"] for m in received) == list(range(23))
    assert {m["Attributes"]["MessageGroupId"] for m in received} == {"vis_0", "vis_1"}


def test_an_unreachable_queue_raises_queue_unavailable() -> None:
    from botocore.config import Config

    def client() -> Any:
        return boto3.session.Session().client(
            "sqs",
            region_name="us-east-1",
            endpoint_url="http://127.0.0.1:9",
            config=Config(connect_timeout=0.5, retries={"max_attempts": 1}),
        )

    publisher = SqsPublisher(client, lambda name: "http://127.0.0.1:9/000000000000/clicks")
    with pytest.raises(QueueUnavailableError, match="clicks"):
        send_one(publisher, "clicks", OutgoingMessage("x"))
