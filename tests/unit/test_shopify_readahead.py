"""readahead.chunks: the same chunks as a plain loop, errors where they happened, an early stop cleans up."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from multibuzz.commerce.shopify import readahead


def _plain(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@pytest.mark.parametrize("count", [0, 1, 999, 1000, 1001, 3500])
def test_chunks_are_the_plain_loops_in_order(count: int) -> None:
    items = list(range(count))
    assert list(readahead.chunks(iter(items), 1000, list)) == _plain(items, 1000)


def test_prepare_runs_on_the_reader_thread_per_chunk() -> None:
    seen: list[str] = []

    def prepare(chunk: list[int]) -> int:
        seen.append(threading.current_thread().name)
        return sum(chunk)

    assert list(readahead.chunks(iter(range(25)), 10, prepare)) == [45, 145, 110]
    assert seen == ["shopify-readahead"] * 3


def test_an_error_of_the_stream_is_raised_after_the_chunks_before_it() -> None:
    def stream() -> Iterator[int]:
        yield from range(25)
        raise RuntimeError("download failed")

    chunks = readahead.chunks(stream(), 10, list)
    assert [next(chunks), next(chunks)] == [list(range(10)), list(range(10, 20))]
    with pytest.raises(RuntimeError, match="download failed"):
        next(chunks)  # the partial 20..24 is never handed over


def test_a_consumer_that_stops_early_stops_the_reader_and_closes_the_stream() -> None:
    closed = threading.Event()

    def stream() -> Iterator[int]:
        try:
            n = 0
            while True:  # endless: only the stop flag ends the reader
                yield n
                n += 1
        finally:
            closed.set()

    chunks = readahead.chunks(stream(), 10, list)
    assert next(chunks) == list(range(10))
    chunks.close()  # as a ``for`` loop left by an exception does
    assert closed.is_set()
    assert not [t for t in threading.enumerate() if t.name == "shopify-readahead"]


def test_sender_sends_every_batch_in_order_on_its_thread_before_close_returns() -> None:
    sent: list[tuple[str, list[int]]] = []
    sender = readahead.Sender(lambda batch: sent.append((threading.current_thread().name, batch)))
    for n in range(20):
        sender.submit([n])
    sender.close()
    assert sent == [("shopify-sender", [n]) for n in range(20)]


def test_sender_raises_the_first_send_error_at_close_and_sends_nothing_after_it() -> None:
    sent: list[int] = []

    def send(batch: int) -> None:
        if batch == 3:
            raise RuntimeError("queue refused")
        sent.append(batch)

    sender = readahead.Sender(send)
    for n in range(6):
        try:
            sender.submit(n)
        except RuntimeError:
            break
    with pytest.raises(RuntimeError, match="queue refused"):
        sender.close()
    assert sent == [0, 1, 2]
