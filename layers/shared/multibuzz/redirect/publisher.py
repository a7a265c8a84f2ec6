"""How the redirect hands clicks to the clicks queue: directly, or group-committed in the background.

- ``DirectClickPublisher`` (AWS, ``queue_backend=sqs``): ``send_batch`` before the response. A Lambda
  environment is frozen once it answers, so nothing may be left in memory; a failed send goes to the
  spool at once.
- ``BatchingClickPublisher`` (the local runner, ``queue_backend=local``): the durable local queue is a
  SQLite file, and one committed transaction per click (~0.2 ms) would be the whole cost of a
  redirect. The handler instead appends the click to an in-memory buffer; a daemon thread sends the
  buffer every ``max_delay`` (5 ms) or ``max_batch`` (100) clicks in one transaction. A failed send
  goes to the (fsync-ed) spool for ``replay-clicks``, and the buffer is flushed at interpreter exit.
  The buffer is bounded: past ``max_pending`` (2 000) clicks the request itself flushes (backpressure).
  The trade-off, stated plainly: a hard kill of the local process can lose the clicks of the last
  few milliseconds; a queue outage loses nothing.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from typing import Protocol

from multibuzz.adapters.queue.base import OutgoingMessage, QueuePublisher
from multibuzz.observability import get_logger
from multibuzz.redirect.spool import ClickSpool

QUEUE = "clicks"
logger = get_logger("redirect")


def send_or_spool(queue: QueuePublisher, spool: ClickSpool, bodies: list[str]) -> int:
    """Send ``bodies`` to the clicks queue; whatever the queue doesn't take is spooled. Returns spooled count."""
    refused = bodies
    reason = "rejected"
    try:
        results = queue.send_batch(QUEUE, [OutgoingMessage(body) for body in bodies])
        taken = {result.index for result in results if result.ok}
        refused = [body for index, body in enumerate(bodies) if index not in taken]
    except Exception as exc:  # QueueUnavailableError or anything else the adapter raises
        reason = type(exc).__name__
    if refused:
        logger.warning("clicks queue unavailable; clicks spooled", extra={"reason": reason, "count": len(refused)})
        spool.append(refused)
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


class BatchingClickPublisher:
    def __init__(
        self,
        queue: Callable[[], QueuePublisher],
        spool: ClickSpool,
        *,
        max_batch: int = 100,
        max_delay: float = 0.005,
        max_pending: int = 2_000,
    ) -> None:
        self._queue = queue
        self._spool = spool
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.max_pending = max_pending
        self._buffer: list[str] = []
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.idle_exit = 2.0
        atexit.register(self.flush)

    def publish(self, body: str) -> None:
        with self._lock:
            self._buffer.append(body)
            size = len(self._buffer)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="click-publisher", daemon=True)
                self._thread.start()
        if size >= self.max_pending:  # the sender can't keep up: this request sends one batch (backpressure)
            self._send_one_batch()
        elif size >= self.max_batch:
            self._wake.set()

    def _run(self) -> None:
        idle = 0.0
        while True:
            self._wake.wait(self.max_delay)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # keep the thread alive whatever happens; the spool has the clicks
                logger.exception("click publisher flush failed")
            with self._lock:
                if self._buffer:
                    idle = 0.0
                    continue
                idle += self.max_delay
                if idle >= self.idle_exit:  # no clicks for a while: stop; the next publish starts a thread
                    self._thread = None
                    return

    def flush(self) -> None:
        """Send everything buffered so far (also called by tests and at exit)."""
        while self._send_one_batch():
            pass

    def _send_one_batch(self) -> bool:
        """Send the oldest ``max_batch`` clicks; False when nothing was buffered. Memory stays bounded
        while a request that hits the limit pays for one batch, never for the whole backlog."""
        with self._send_lock:
            with self._lock:
                batch, self._buffer = self._buffer[: self.max_batch], self._buffer[self.max_batch :]
            if not batch:
                return False
            try:
                send_or_spool(self._queue(), self._spool, batch)
            except Exception:  # even the spool failed: at least the log has the click ids
                logger.exception("clicks could be neither queued nor spooled", extra={"count": len(batch)})
            return True

    def pending(self) -> int:
        with self._lock:
            return len(self._buffer)
