"""How the redirect hands clicks to the clicks queue: directly, or through the local click journal.

- ``DirectClickPublisher`` (AWS, ``queue_backend=sqs``): ``send_batch`` before the response. A Lambda
  environment is frozen once it answers, so nothing may be left in memory; a failed send goes to the
  spool at once.
- ``JournalClickPublisher`` (the local runner, ``queue_backend=local``): one ``os.write`` of the click
  to an append-only journal; the shipper process (``python -m infra.local ship-clicks``, started by
  ``make serve``) moves journal lines into the durable local queue in batches. Why, and what it
  guarantees: multibuzz.redirect.journal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from multibuzz.adapters.queue.base import OutgoingMessage, QueuePublisher
from multibuzz.observability import get_logger
from multibuzz.redirect.journal import ClickJournal, JournalShipper
from multibuzz.redirect.spool import ClickSpool
from multibuzz.telemetry import correlation, metrics

QUEUE = "clicks"
logger = get_logger("redirect")


def send_or_spool(queue: QueuePublisher, spool: ClickSpool, bodies: list[str]) -> int:
    """Send ``bodies`` to the clicks queue; whatever the queue doesn't take is spooled. Returns spooled count."""
    refused = bodies
    reason = "rejected"
    try:
        attributes = correlation.message_attributes()  # the redirect's request id (SQS path)
        results = queue.send_batch(QUEUE, [OutgoingMessage(body, attributes=attributes) for body in bodies])
        taken = {result.index for result in results if result.ok}
        refused = [body for index, body in enumerate(bodies) if index not in taken]
    except Exception as exc:  # QueueUnavailableError or anything else the adapter raises
        reason = type(exc).__name__
    if refused:
        logger.warning("clicks queue unavailable; clicks spooled", extra={"reason": reason, "count": len(refused)})
        spool.append(refused)
        metrics.count(metrics.Metric.CLICKS_SPOOLED, len(refused))
    return len(refused)


class ClickPublisher(Protocol):
    def publish(self, body: str) -> None: ...

    def flush(self) -> None: ...


class DirectClickPublisher:
    def __init__(self, queue: Callable[[], QueuePublisher], spool: ClickSpool) -> None:
        self._queue = queue
        self._spool = spool

    def publish(self, body: str) -> None:
        send_or_spool(self._queue(), self._spool, [body])

    def flush(self) -> None:
        return None


class JournalClickPublisher:
    """Local: one line appended to the click journal; a shipper process moves it to the queue."""

    def __init__(
        self, journal: ClickJournal, shipper: JournalShipper, queue: Callable[[], QueuePublisher], spool: ClickSpool
    ) -> None:
        self.journal = journal
        self.shipper = shipper
        self._queue = queue
        self._spool = spool

    def publish(self, body: str) -> None:
        try:
            self.journal.append(body)
        except OSError:  # the journal's disk refused: the fsync-ed spool is the last resort
            logger.exception("click journal append failed; click spooled")
            self._spool.append([body])
            metrics.count(metrics.Metric.CLICKS_SPOOLED)

    def flush(self) -> None:
        """Ship the journal now, in this process (tests, ``replay-clicks``); the queue being down keeps it."""
        report = self.shipper.ship(self._queue())
        if report.queue_error:
            logger.warning("clicks queue unavailable; clicks stay in the journal", extra={"reason": report.queue_error})
