"""The publishing side of a queue, as every producer (HTTP handlers) sees it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


class QueueUnavailableError(RuntimeError):
    """The queue could not take the message(s); the caller decides how to degrade."""


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    body: str
    group_id: str | None = None  # FIFO message group (e.g. the visitor)
    dedup_id: str | None = None  # FIFO deduplication id (5-minute window, as SQS)
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    index: int
    message_id: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class QueuePublisher(Protocol):
    def send_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        """Send messages; a per-message result says which were taken. Raises QueueUnavailableError
        when the queue cannot be reached at all."""
        ...


def send_one(publisher: QueuePublisher, queue: str, message: OutgoingMessage) -> str:
    result = publisher.send_batch(queue, [message])[0]
    if not result.ok or result.message_id is None:
        raise QueueUnavailableError(result.error or "message not accepted")
    return result.message_id
