"""SQS publisher (boto3). The client is built on first use, never at import time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from multibuzz.adapters.queue.base import OutgoingMessage, QueueUnavailableError, SendResult

_MAX_BATCH = 10


class SqsPublisher:
    def __init__(self, client_factory: Callable[[], Any], queue_urls: Callable[[str], str]) -> None:
        self._client_factory = client_factory
        self._client: Any = None
        self._queue_urls = queue_urls

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def send_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        from botocore.exceptions import BotoCoreError, ClientError

        url = self._queue_urls(queue)
        results: list[SendResult] = []
        for start in range(0, len(messages), _MAX_BATCH):
            chunk = messages[start : start + _MAX_BATCH]
            entries = []
            for offset, message in enumerate(chunk):
                entry: dict[str, Any] = {"Id": str(start + offset), "MessageBody": message.body}
                if message.group_id:
                    entry["MessageGroupId"] = message.group_id
                if message.dedup_id:
                    entry["MessageDeduplicationId"] = message.dedup_id
                if message.attributes:
                    entry["MessageAttributes"] = {
                        key: {"DataType": "String", "StringValue": value} for key, value in message.attributes.items()
                    }
                entries.append(entry)
            try:
                response = self.client.send_message_batch(QueueUrl=url, Entries=entries)
            except (BotoCoreError, ClientError) as exc:
                raise QueueUnavailableError(f"SQS queue {queue!r} unavailable: {exc}") from exc
            for ok in response.get("Successful", []):
                results.append(SendResult(int(ok["Id"]), ok["MessageId"]))
            for failed in response.get("Failed", []):
                results.append(SendResult(int(failed["Id"]), None, failed.get("Message") or failed.get("Code")))
        results.sort(key=lambda result: result.index)
        return results
