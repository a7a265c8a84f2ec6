"""Group commit over the durable local queue: concurrent publishers share transactions, nothing else changes."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from multibuzz.adapters.queue.base import OutgoingMessage, QueueUnavailableError, SendResult
from multibuzz.adapters.queue.group_commit import GroupCommitPublisher
from multibuzz.adapters.queue.local import LocalQueue

THREADS = 16
PER_THREAD = 40


class CountingQueue(LocalQueue):
    """The real local queue, counting its transactions (one per ``send_batch``)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, fifo_queues=("ingest",))
        self.transactions = 0

    def send_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        self.transactions += 1
        return super().send_batch(queue, messages)


def publish_concurrently(publisher: GroupCommitPublisher) -> list[list[str]]:
    """THREADS threads, each sending PER_THREAD messages of its own group one at a time."""
    sent: list[list[str]] = [[] for _ in range(THREADS)]
    start = threading.Barrier(THREADS)

    def work(n: int) -> None:
        start.wait()
        for i in range(PER_THREAD):
            body = f"t{n}-{i}"
            results = publisher.send_batch("ingest", [OutgoingMessage(body, group_id=f"g{n}", dedup_id=f"d-{body}")])
            assert len(results) == 1 and results[0].ok and results[0].index == 0
            sent[n].append(body)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent


def test_every_message_is_committed_in_order_per_group_with_fewer_transactions(tmp_path: Path) -> None:
    queue = CountingQueue(tmp_path / "q.db")
    sent = publish_concurrently(GroupCommitPublisher(queue))
    assert sum(len(s) for s in sent) == THREADS * PER_THREAD
    assert queue.depth("ingest") == THREADS * PER_THREAD, "each call returned only once its message was stored"
    stored = [body for (body,) in queue._conn().execute("SELECT body FROM messages ORDER BY seq")]
    for n in range(THREADS):
        assert [b for b in stored if b.startswith(f"t{n}-")] == sent[n], "FIFO per group kept"
    assert queue.transactions < THREADS * PER_THREAD, "concurrent calls shared transactions"


def test_results_map_back_to_each_caller_and_duplicates_are_found_within_a_commit(tmp_path: Path) -> None:
    queue = CountingQueue(tmp_path / "q.db")
    publisher = GroupCommitPublisher(queue)
    first = publisher.send_batch(
        "ingest",
        [OutgoingMessage("a", group_id="g", dedup_id="same"), OutgoingMessage("b", group_id=None)],
    )
    assert first[0].ok and first[1].error == "FIFO queue needs a message group id"
    again = publisher.send_batch("ingest", [OutgoingMessage("a2", group_id="g", dedup_id="same")])
    assert again[0].message_id == first[0].message_id, "deduplicated as before"
    assert queue.depth("ingest") == 1


def test_a_queue_failure_reaches_every_waiting_caller(tmp_path: Path) -> None:
    broken = tmp_path / "not-a-database"
    broken.mkdir()
    publisher = GroupCommitPublisher(LocalQueue(broken, fifo_queues=("ingest",)))
    errors: list[BaseException] = []

    def send() -> None:
        try:
            publisher.send_batch("ingest", [OutgoingMessage("x", group_id="g")])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 8 and all(isinstance(e, QueueUnavailableError) for e in errors)
    with pytest.raises(QueueUnavailableError):
        publisher.send_batch("ingest", [OutgoingMessage("y", group_id="g")])


def test_the_dedup_purge_of_every_fifo_send_uses_an_index(tmp_path: Path) -> None:
    """Each FIFO send deletes expired dedup ids; without an index that scanned 5 minutes of ids per send."""
    queue = LocalQueue(tmp_path / "q.db", fifo_queues=("ingest",))
    queue.send_batch("ingest", [OutgoingMessage("x", group_id="g", dedup_id="d")])
    plan = " ".join(
        str(row[-1])
        for row in queue._conn().execute(
            "EXPLAIN QUERY PLAN DELETE FROM dedup WHERE queue = ? AND expires_at < ?", ("ingest", 0.0)
        )
    )
    assert "USING INDEX ix_dedup_queue_expires" in plan or "USING COVERING INDEX ix_dedup_queue_expires" in plan, plan
