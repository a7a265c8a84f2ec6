"""Group commit for the local queue: concurrent publishers share one SQLite transaction.

Each ``send_batch`` on the durable local queue is a ``BEGIN IMMEDIATE`` … ``COMMIT``. Under concurrent
requests (the local gateway runs the events function on up to 16 threads) those transactions queue on
SQLite's write lock, whose busy handler sleeps in steps of milliseconds: a few hundred requests a second
made most of their time waiting there. ``GroupCommitPublisher`` keeps the guarantee — ``send_batch``
returns only once its messages are committed — but lets one caller at a time (the leader) commit
everything that is waiting, in arrival order, in one transaction per queue; the others wait for their
results. When the leader is done it hands the lead to the oldest waiter, if any, so nobody leads for long.

Order: a request's messages are committed after those of every request that called ``send_batch`` before
it started, so FIFO groups keep the order in which the API accepted them. Deduplication ids are checked
inside the one transaction, so a duplicate within a group commit is found as across commits.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from multibuzz.adapters.queue.base import OutgoingMessage, QueuePublisher, QueueUnavailableError, SendResult


@dataclass(eq=False)
class _Request:
    queue: str
    messages: Sequence[OutgoingMessage]
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    results: list[SendResult] | None = None
    error: BaseException | None = None


class GroupCommitPublisher:
    """A ``QueuePublisher`` over another one whose ``send_batch`` is one transaction (the local queue)."""

    def __init__(self, inner: QueuePublisher) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self._pending: list[_Request] = []
        self._leading = False

    def send_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        request = _Request(queue, messages)
        with self._lock:
            self._pending.append(request)
            if not self._leading:
                self._leading = request.lead = True
        while request.results is None and request.error is None:
            if request.lead:
                self._lead()  # commits this request too
            else:
                request.done.wait()  # answered, or woken to lead
        if isinstance(request.error, QueueUnavailableError):  # one instance per caller (each its own traceback)
            raise QueueUnavailableError(str(request.error)) from request.error
        if request.error is not None:
            raise request.error
        assert request.results is not None
        return request.results

    def _lead(self) -> None:
        """Commit everything waiting (this caller's request included), then pass the lead on."""
        with self._lock:
            batch, self._pending = self._pending, []
        try:
            self._commit(batch)
        finally:
            with self._lock:
                if self._pending:
                    successor = self._pending[0]
                    successor.lead = True
                    successor.done.set()  # wakes it as the next leader
                else:
                    self._leading = False
            for request in batch:
                request.done.set()

    def _commit(self, batch: list[_Request]) -> None:
        by_queue: dict[str, list[_Request]] = {}
        for request in batch:
            by_queue.setdefault(request.queue, []).append(request)
        for queue, requests in by_queue.items():
            messages = [m for r in requests for m in r.messages]
            try:
                results = self.inner.send_batch(queue, messages) if messages else []
            except BaseException as exc:  # every request of this transaction gets the queue's error
                for request in requests:
                    request.error = exc
                continue
            by_index = {result.index: result for result in results}
            offset = 0
            for request in requests:
                request.results = [
                    SendResult(i, by_index[offset + i].message_id, by_index[offset + i].error)
                    for i in range(len(request.messages))
                ]
                offset += len(request.messages)
