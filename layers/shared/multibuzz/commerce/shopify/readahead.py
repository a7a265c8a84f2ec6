"""Read a stream ahead in a thread, in chunks: the bulk fill's download and parse overlap its writes.

The fill is a loop of "read and parse 1,000 JSONL lines, then write them" in which each half waits for
the other: while the database executes a page's inserts (the process asleep in ``recv``), nothing reads
the next lines. ``chunks(items, size, prepare)`` runs the iteration of ``items`` (the HTTP stream and the
JSON parse) and ``prepare`` of each chunk (the fill turns the nodes into order facts there) on a thread of
its own, and hands the results over through a queue of one: memory stays bounded (at most three chunks:
one being written, one waiting, one being read), the order is kept, an exception of the stream is raised
in the consumer where the next chunk would have come, and a consumer that stops early (an error while
writing) stops the thread and closes the stream.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
U = TypeVar("U")

_DONE = object()
_WAIT = 0.1  # seconds between checks of the stop flag while the queue is full


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def chunks(items: Iterable[T], size: int, prepare: Callable[[list[T]], U]) -> Iterator[U]:
    """``prepare(chunk)`` of ``items`` in lists of ``size`` (the last one shorter, never empty), read and
    prepared ahead by a thread (``prepare`` must be pure: it runs on that thread)."""
    handoff: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(value: Any) -> bool:
        while not stop.is_set():
            try:
                handoff.put(value, timeout=_WAIT)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        iterator = iter(items)
        try:
            chunk: list[T] = []
            for item in iterator:
                chunk.append(item)
                if len(chunk) >= size:
                    if not put(prepare(chunk)):
                        return
                    chunk = []
            if chunk and not put(prepare(chunk)):
                return
            put(_DONE)
        except BaseException as exc:
            put(_Failed(exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # a generator: its ``with`` blocks (the HTTP stream) end here, in its own thread

    thread = threading.Thread(target=read, name="shopify-readahead", daemon=True)
    thread.start()
    try:
        while True:
            value = handoff.get()
            if value is _DONE:
                return
            if isinstance(value, _Failed):
                raise value.error
            yield value
    finally:
        stop.set()
        thread.join(timeout=30)


class Sender:
    """Runs ``send(batch)`` for each submitted batch on a thread of its own, in submission order: the fill's
    conversion messages (handed to the queue after their page committed) go out while the next page is
    written. ``close()`` waits for every batch and raises the first error a send raised (the run then fails
    as it would have; ``conversions.send`` itself already turns a queue outage into pending conversions)."""

    def __init__(self, send: Callable[[Any], Any]) -> None:
        self._send = send
        self._batches: queue.Queue[Any] = queue.Queue(maxsize=2)  # bounded: the writer waits, memory stays flat
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="shopify-sender", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._batches.get()) is not _DONE:
            if self._error is None:
                try:
                    self._send(batch)
                except BaseException as exc:
                    self._error = exc

    def submit(self, batch: Any) -> None:
        if self._error is not None:
            raise self._error
        self._batches.put(batch)

    def close(self) -> None:
        """Wait for every submitted batch; raise the first send error."""
        self._batches.put(_DONE)
        self._thread.join()
        if self._error is not None:
            raise self._error
