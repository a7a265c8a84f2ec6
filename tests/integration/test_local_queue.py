"""The durable local queue and the dispatcher that feeds consumers SQS-shaped batches."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from multibuzz.adapters.queue.base import OutgoingMessage
from multibuzz.adapters.queue.local import LocalQueue

from infra.local.dispatch import deliver_once


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> LocalQueue:
    return LocalQueue(tmp_path / "q.db", fifo_queues=("ingest",), now=clock)


class RecordingConsumer:
    """A consumer handler: records the SQS events it gets; fails the bodies it is told to."""

    def __init__(self, fail_bodies: set[str] | None = None, raise_error: bool = False) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail_bodies = fail_bodies or set()
        self.raise_error = raise_error

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        if self.raise_error:
            raise RuntimeError("boom")
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] in self.fail_bodies
            ]
        }

    @property
    def bodies(self) -> list[str]:
        return [r["body"] for e in self.events for r in e["Records"]]


def test_message_reaches_the_consumer_as_an_sqs_event(store: LocalQueue) -> None:
    store.send_batch("clicks", [OutgoingMessage('{"n": 1}', attributes={"kind": "click"})])
    consumer = RecordingConsumer()
    report = deliver_once(store, "clicks", consumer)
    assert (report.received, report.succeeded) == (1, 1)
    record = consumer.events[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(":multibuzz-local-clicks")
    assert json.loads(record["body"]) == {"n": 1}
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"]["stringValue"] == "click"
    assert store.depth("clicks") == 0


def test_failed_record_is_retried_with_backoff_then_dead_lettered(store: LocalQueue, clock: Clock) -> None:
    store.send_batch("clicks", [OutgoingMessage("good"), OutgoingMessage("poison")])
    consumer = RecordingConsumer(fail_bodies={"poison"})
    first = deliver_once(store, "clicks", consumer, max_attempts=3, backoff_seconds=10)
    assert (first.succeeded, first.retried, first.dead) == (1, 1, 0)
    # Backoff: not visible again until 10 s later.
    assert deliver_once(store, "clicks", consumer, max_attempts=3, backoff_seconds=10).received == 0
    clock.t += 10
    second = deliver_once(store, "clicks", consumer, max_attempts=3, backoff_seconds=10)
    assert second.retried == 1
    clock.t += 20
    third = deliver_once(store, "clicks", consumer, max_attempts=3, backoff_seconds=10)
    assert third.dead == 1
    assert consumer.bodies == ["good", "poison", "poison", "poison"]
    dead = store.dead_letters("clicks")
    assert [(d.body, d.receive_count) for d in dead] == [("poison", 3)]
    assert store.depth("clicks") == 0
    # Redrive puts it back for another go.
    assert store.redrive("clicks") == 1
    assert deliver_once(store, "clicks", RecordingConsumer()).succeeded == 1


def test_an_invocation_error_returns_the_whole_batch(store: LocalQueue) -> None:
    store.send_batch("clicks", [OutgoingMessage("a"), OutgoingMessage("b")])
    report = deliver_once(store, "clicks", RecordingConsumer(raise_error=True), max_attempts=5, backoff_seconds=0)
    assert report.retried == 2
    ok = RecordingConsumer()
    assert deliver_once(store, "clicks", ok).succeeded == 2
    assert sorted(ok.bodies) == ["a", "b"]


def test_visibility_timeout_redelivers_an_unacknowledged_message(store: LocalQueue, clock: Clock) -> None:
    store.send_batch("clicks", [OutgoingMessage("x")])
    first = store.receive("clicks", 10, visibility_timeout=30)
    assert len(first) == 1 and store.receive("clicks", 10, 30) == []
    clock.t += 31
    again = store.receive("clicks", 10, 30)
    assert [m.body for m in again] == ["x"] and again[0].receive_count == 2
    assert not store.delete("clicks", first[0].receipt_handle), "a stale receipt must not delete"
    assert store.delete("clicks", again[0].receipt_handle)


def test_fifo_orders_each_group_and_blocks_it_while_in_flight(store: LocalQueue) -> None:
    store.send_batch(
        "ingest",
        [
            OutgoingMessage("a1", group_id="A"),
            OutgoingMessage("b1", group_id="B"),
            OutgoingMessage("a2", group_id="A"),
        ],
    )
    batch = store.receive("ingest", 2, 30)
    assert [m.body for m in batch] == ["a1", "b1"]
    assert store.receive("ingest", 10, 30) == [], "groups A and B are in flight"
    store.delete("ingest", batch[1].receipt_handle)
    assert store.receive("ingest", 10, 30) == [], "A is still in flight, so a2 must wait"
    store.delete("ingest", batch[0].receipt_handle)
    assert [m.body for m in store.receive("ingest", 10, 30)] == ["a2"]


def test_fifo_deduplication_window(store: LocalQueue, clock: Clock) -> None:
    first = store.send_batch("ingest", [OutgoingMessage("e", group_id="v", dedup_id="evt_1")])
    again = store.send_batch("ingest", [OutgoingMessage("e", group_id="v", dedup_id="evt_1")])
    assert first[0].message_id == again[0].message_id
    assert store.depth("ingest") == 1
    clock.t += 301
    store.send_batch("ingest", [OutgoingMessage("e", group_id="v", dedup_id="evt_1")])
    assert store.depth("ingest") == 2
    missing_group = store.send_batch("ingest", [OutgoingMessage("e")])
    assert not missing_group[0].ok and "group" in (missing_group[0].error or "")


def test_a_restart_loses_no_queued_message(tmp_path: Path) -> None:
    path = tmp_path / "durable.db"
    before = LocalQueue(path, fifo_queues=("ingest",))
    before.send_batch("ingest", [OutgoingMessage(f"m{i}", group_id=f"g{i % 3}") for i in range(50)])
    in_flight = before.receive("ingest", 5, visibility_timeout=0.0)  # received, never acknowledged
    assert [m.body for m in in_flight] == ["m0", "m1", "m2", "m3", "m4"]  # several per group, in order
    before.close()
    del before

    after = LocalQueue(path, fifo_queues=("ingest",))
    consumer = RecordingConsumer()
    while deliver_once(after, "ingest", consumer, batch_size=10).received:
        pass
    assert sorted(consumer.bodies, key=lambda b: int(b[1:])) == [f"m{i}" for i in range(50)]
    for group in range(3):
        bodies = [b for b in consumer.bodies if int(b[1:]) % 3 == group]
        assert bodies == sorted(bodies, key=lambda b: int(b[1:])), "order within a group survives the restart"


def test_many_threads_first_touching_a_fresh_queue_all_succeed(tmp_path: Path) -> None:
    """Regression: connections opening a brand-new queue file at once raced on switching it to WAL."""
    import threading

    for attempt in range(15):
        store = LocalQueue(tmp_path / f"fresh-{attempt}.db", fifo_queues=("ingest",))
        errors: list[BaseException] = []
        start = threading.Barrier(8)

        def first_send(
            n: int, store: LocalQueue = store, start: threading.Barrier = start, errors: list[BaseException] = errors
        ) -> None:
            start.wait()
            try:
                if n % 2:
                    store.send_batch("clicks", [OutgoingMessage(f"c{n}")])
                else:
                    store.send_batch("ingest", [OutgoingMessage(f"e{n}", group_id=f"g{n}", dedup_id=f"d{n}")])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=first_send, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [], f"attempt {attempt}: {errors[:2]}"
        assert store.depth("clicks") + store.depth("ingest") == 8


RECEIVE_AND_DIE = """
import os, signal, sys
from pathlib import Path
from multibuzz.adapters.queue.local import LocalQueue
store = LocalQueue(Path(sys.argv[1]), fifo_queues=("ingest",))
taken = store.receive("ingest", 10, visibility_timeout=720) + store.receive("clicks", 10, visibility_timeout=720)
print(len(taken), flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # kill -9 mid-batch: nothing deleted, nothing released
"""


def receive_in_a_process_that_dies(path: Path) -> int:
    result = subprocess.run(
        [sys.executable, "-c", RECEIVE_AND_DIE, str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    return int(result.stdout)


def test_start_up_releases_what_a_killed_consumer_held_in_fifo_order(tmp_path: Path) -> None:
    """Defect 10: after kill -9, in-flight messages came back only after the 720 s visibility timeout and
    held their FIFO groups. Start-up recovery makes them visible again at once, in order."""
    path = tmp_path / "q.db"
    producer = LocalQueue(path, fifo_queues=("ingest",))
    producer.send_batch(
        "ingest", [OutgoingMessage(f"{group}{n}", group_id=group) for n in range(3) for group in ("a", "b")]
    )
    producer.send_batch("clicks", [OutgoingMessage(f"click{n}") for n in range(2)])
    assert receive_in_a_process_that_dies(path) == 8
    assert producer.receive("ingest", 10) == [] and producer.receive("clicks", 10) == [], "held until the timeout"

    restarted = LocalQueue(path, fifo_queues=("ingest",))
    assert restarted.recover_orphans() == 8
    assert restarted.recover_orphans() == 0, "idempotent"
    ingest = restarted.receive("ingest", 10)
    assert [m.body for m in ingest] == ["a0", "b0", "a1", "b1", "a2", "b2"], "each group in its order"
    assert {m.receive_count for m in ingest} == {2}, "the dead consumer's receive counts, as in SQS"
    assert sorted(m.body for m in restarted.receive("clicks", 10)) == ["click0", "click1"]


def test_start_up_leaves_a_live_consumers_messages_alone(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    live = LocalQueue(path, fifo_queues=("ingest",))
    live.send_batch("ingest", [OutgoingMessage("a0", group_id="a"), OutgoingMessage("a1", group_id="a")])
    held = live.receive("ingest", 1, visibility_timeout=720)
    assert [m.body for m in held] == ["a0"]
    other = LocalQueue(path, fifo_queues=("ingest",))  # a second process starting beside a live one
    assert other.recover_orphans() == 0
    assert other.receive("ingest", 10) == [], "a0 is still in flight, so its group stays blocked"
    assert live.delete("ingest", held[0].receipt_handle)
    assert [m.body for m in other.receive("ingest", 10)] == ["a1"]


def test_delete_batch_deletes_what_is_still_held_in_one_call(store: LocalQueue, clock: Clock) -> None:
    store.send_batch("clicks", [OutgoingMessage(body) for body in ("a", "b", "c", "d")])
    first = store.receive("clicks", 4, visibility_timeout=30)
    assert [m.body for m in first] == ["a", "b", "c", "d"]
    clock.t += 31  # every visibility ran out; another consumer takes "a" (oldest first): a's first receipt is stale
    again = store.receive("clicks", 1, 30)
    assert [m.body for m in again] == ["a"]
    assert store.delete_batch("clicks", [m.receipt_handle for m in first]) == 3  # b, c, d
    assert store.delete_batch("clicks", []) == 0
    assert store.depth("clicks") == 1
    assert store.delete_batch("clicks", [again[0].receipt_handle]) == 1
    assert store.depth("clicks") == 0


def test_a_big_fifo_receive_reads_the_chosen_messages_in_queue_order(store: LocalQueue) -> None:
    """Bodies are read for the chosen messages only; what is chosen and its order are as before."""
    store.send_batch(
        "ingest", [OutgoingMessage(f"{g}{i}", group_id=g, dedup_id=f"{g}{i}") for i in range(60) for g in "ABCDE"]
    )
    held = store.receive("ingest", 1, 30)
    assert [m.body for m in held] == ["A0"]
    batch = store.receive("ingest", 100, 30)
    assert [m.body for m in batch] == [f"{g}{i}" for i in range(25) for g in "BCDE"]  # A is in flight
    assert [m.sequence for m in batch] == sorted(m.sequence for m in batch)
    assert all(m.receive_count == 1 and m.group_id == m.body[0] and m.dedup_id == m.body for m in batch)
    assert store.receive("ingest", 100, 30) == []  # every group is in flight now
