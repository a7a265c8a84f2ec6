"""Queue publishing: SQS on AWS, a durable SQLite-backed queue locally."""

from multibuzz.adapters.queue.base import OutgoingMessage, QueuePublisher, QueueUnavailableError, SendResult

__all__ = ["OutgoingMessage", "QueuePublisher", "QueueUnavailableError", "SendResult"]
