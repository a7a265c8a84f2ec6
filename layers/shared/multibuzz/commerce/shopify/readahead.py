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
