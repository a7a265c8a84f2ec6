"""Operating the queues: depth, dead-letter contents, redrive. One protocol, a local and an SQS adapter.

Redrive delivers each dead letter once: a message is put back on its queue, then removed from the
dead-letter store (locally both in one SQLite transaction; on SQS send-then-delete per message, so a
crash between the two can at worst deliver a copy again, which every consumer tolerates — idempotent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class DeadLetterView:
    message_id: str
    body: str
    group_id: str | None
    receive_count: int
    reason: str | None
    dead_at: float | None  # epoch seconds (SQS: when it was first sent, as SQS keeps no "dead at")


class QueueAdmin(Protocol):
    def depth(self, queue: str) -> int: ...

    def dead_letter_depth(self, queue: str) -> int: ...

    def dead_letters(self, queue: str, limit: int) -> list[DeadLetterView]: ...

    def redrive(self, queue: str) -> int:
        """Put every dead letter of ``queue`` back on it, once; returns how many."""
        ...


class LocalQueueAdmin:
    def __init__(self, queue: Any) -> None:
        self._queue = queue

    def depth(self, queue: str) -> int:
        return int(self._queue.depth(queue))

    def dead_letter_depth(self, queue: str) -> int:
        return len(self._queue.dead_letters(queue))

    def dead_letters(self, queue: str, limit: int) -> list[DeadLetterView]:
        return [
            DeadLetterView(d.message_id, d.body, d.group_id, d.receive_count, d.reason, d.dead_at)
            for d in self._queue.dead_letters(queue)[:limit]
        ]

    def redrive(self, queue: str) -> int:
        return int(self._queue.redrive(queue))


class SqsQueueAdmin:
    """Dead letters are read with a zero visibility timeout (they stay in the DLQ, visible to the next read)."""

    def __init__(
        self, client_factory: Callable[[], Any], queue_url: Callable[[str], str], dlq_url: Callable[[str], str]
    ) -> None:
        self._client_factory = client_factory
        self._client: Any = None
        self._queue_url = queue_url
        self._dlq_url = dlq_url

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def _count(self, url: str) -> int:
        attributes = self.client.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
            attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
        )

    def depth(self, queue: str) -> int:
        return self._count(self._queue_url(queue))

    def dead_letter_depth(self, queue: str) -> int:
        return self._count(self._dlq_url(queue))

    def _receive(self, url: str, count: int, visibility: int) -> list[dict[str, Any]]:
        response = self.client.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=max(1, min(count, 10)),
            VisibilityTimeout=visibility,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def dead_letters(self, queue: str, limit: int) -> list[DeadLetterView]:
        url = self._dlq_url(queue)
        seen: dict[str, DeadLetterView] = {}
        handles: list[str] = []
        for _ in range(max(1, limit // 10 + 1)):
            # A short visibility keeps what was read out of the next receive of this listing, then returns it.
            batch = self._receive(url, limit - len(seen), 2)
            if not batch:
                break
            for message in batch:
                attrs = message.get("Attributes", {})
                handles.append(message["ReceiptHandle"])
                seen.setdefault(
                    message["MessageId"],
                    DeadLetterView(
                        message["MessageId"],
                        message["Body"],
                        attrs.get("MessageGroupId"),
                        int(attrs.get("ApproximateReceiveCount", 0)),
                        None,
                        int(attrs["SentTimestamp"]) / 1000 if "SentTimestamp" in attrs else None,
                    ),
                )
            if len(seen) >= limit:
                break
        for start in range(0, len(handles), 10):  # visible again at once: reading is not consuming
            entries = [
                {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                for i, h in enumerate(handles[start : start + 10])
            ]
            self.client.change_message_visibility_batch(QueueUrl=url, Entries=entries)
        return list(seen.values())[:limit]

    def redrive(self, queue: str) -> int:
        source, dlq = self._queue_url(queue), self._dlq_url(queue)
        moved = 0
        while batch := self._receive(dlq, 10, 60):
            for message in batch:
                attrs = message.get("Attributes", {})
                entry: dict[str, Any] = {"QueueUrl": source, "MessageBody": message["Body"]}
                if attrs.get("MessageGroupId"):
                    entry["MessageGroupId"] = attrs["MessageGroupId"]
                    entry["MessageDeduplicationId"] = f"redrive-{message['MessageId']}"[:128]
                if message.get("MessageAttributes"):
                    entry["MessageAttributes"] = {
                        k: {"DataType": v["DataType"], "StringValue": v["StringValue"]}
                        for k, v in message["MessageAttributes"].items()
                        if "StringValue" in v
                    }
                self.client.send_message(**entry)
                self.client.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
        return moved
