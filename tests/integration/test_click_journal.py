"""The local click journal and its shipper, against the real durable local queue (a SQLite file)."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from multibuzz.adapters.queue.base import OutgoingMessage, QueueUnavailableError, SendResult
from multibuzz.adapters.queue.local import LocalQueue
from multibuzz.redirect.journal import ClickJournal, JournalShipper


def body(n: int, tag: str = "t") -> str:
    return json.dumps({"kind": "click.record", "id": f"clk_{tag}{n:06d}", "account_id": "acc_1", "payload": {}})


def queued(queue: LocalQueue) -> list[str]:
    ids: list[str] = []
    while batch := queue.receive("clicks", 10):
        for message in batch:
            ids.append(json.loads(message.body)["id"])
            queue.delete("clicks", message.receipt_handle)
    return ids


class DownQueue:
    def __init__(self) -> None:
        self.calls = 0

    def send_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        self.calls += 1
        raise QueueUnavailableError("down")


@pytest.fixture
def queue(tmp_path: Path) -> LocalQueue:
    return LocalQueue(tmp_path / "queue.db", fifo_queues=["ingest"])


def test_every_appended_click_is_shipped_once_in_order(tmp_path: Path, queue: LocalQueue) -> None:
    journal = ClickJournal(tmp_path / "j")
    shipper = JournalShipper(tmp_path / "j", batch=7)
    for n in range(50):
        journal.append(body(n))
    report = shipper.ship(queue)
    assert (report.sent, report.rejected, report.pending_bytes, report.queue_error) == (50, 0, 0, None)
    assert shipper.ship(queue).sent == 0, "nothing is shipped twice"
    assert queued(queue) == [f"clk_t{n:06d}" for n in range(50)]
    assert len(shipper.segments()) == 1, "the writer still holds its segment: it is kept"
    journal.close()
    shipper.ship(queue)
    assert shipper.segments() == [], "closed and fully shipped: deleted"


def test_segments_rotate_and_finished_ones_are_deleted(tmp_path: Path, queue: LocalQueue) -> None:
    journal = ClickJournal(tmp_path / "j", segment_bytes=1_000)
    shipper = JournalShipper(tmp_path / "j")
    for n in range(40):
        journal.append(body(n))
    assert len(shipper.segments()) > 3
    assert shipper.ship(queue).sent == 40
    assert len(shipper.segments()) == 1, "only the segment being written remains"
    assert queued(queue) == [f"clk_t{n:06d}" for n in range(40)]


def test_a_queue_outage_keeps_everything_for_later(tmp_path: Path, queue: LocalQueue) -> None:
    journal = ClickJournal(tmp_path / "j")
    shipper = JournalShipper(tmp_path / "j")
    for n in range(30):
        journal.append(body(n))
    down = DownQueue()
    report = shipper.ship(down)
    assert down.calls == 1 and report.sent == 0 and report.queue_error == "down"
    assert report.pending_bytes == shipper.pending_bytes() > 0
    journal.append(body(30))
    assert shipper.ship(queue).sent == 31
    assert queued(queue) == [f"clk_t{n:06d}" for n in range(31)]


def test_unreadable_lines_and_a_dead_writers_partial_line_are_set_aside(tmp_path: Path, queue: LocalQueue) -> None:
    directory = tmp_path / "j"
    directory.mkdir()
    # A segment left by a writer that died mid-write: no lock held, the last line cut short.
    (directory / "clicks-1x1-000001.jsonl").write_bytes(
        (body(1) + "\n" + "not json\n" + body(2) + "\n" + body(3)[:20]).encode()
    )
    shipper = JournalShipper(directory)
    report = shipper.ship(queue)
    assert (report.sent, report.rejected, report.pending_bytes) == (2, 2, 0)
    assert queued(queue) == ["clk_t000001", "clk_t000002"]
    rejected = (directory / "clicks.rejected.jsonl").read_text().splitlines()
    assert rejected == ["not json", body(3)[:20]]
    assert shipper.segments() == []


def test_a_segment_being_created_is_never_picked_up(tmp_path: Path, queue: LocalQueue) -> None:
    directory = tmp_path / "j"
    directory.mkdir()
    (directory / ".clicks-9x9-000001.jsonl.creating").write_bytes(b"")
    shipper = JournalShipper(directory)
    assert shipper.segments() == []
    shipper.ship(queue)
    assert (directory / ".clicks-9x9-000001.jsonl.creating").exists()


def _write_clicks(directory: str, tag: str, count: int) -> None:
    journal = ClickJournal(Path(directory), segment_bytes=20_000)
    for n in range(count):
        journal.append(body(n, tag))
    journal.close()


def test_concurrent_writer_processes_and_threads_while_shipping(tmp_path: Path, queue: LocalQueue) -> None:
    """Four processes and three threads append while a shipper runs: every click arrives exactly once."""
    directory = tmp_path / "j"
    shipper = JournalShipper(directory)
    stop = threading.Event()
    sent: list[int] = []

    def ship_until_stopped() -> None:
        while not stop.is_set():
            sent.append(shipper.ship(queue).sent)
        sent.append(shipper.ship(queue).sent)

    shipping = threading.Thread(target=ship_until_stopped)
    shipping.start()
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_write_clicks, args=(str(directory), f"p{i}", 500)) for i in range(4)]
    for process in processes:
        process.start()
    shared = ClickJournal(directory, segment_bytes=20_000)
    threads = [
        threading.Thread(target=lambda i=i: [shared.append(body(n, f"t{i}")) for n in range(300)]) for i in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for process in processes:
        process.join()
        assert process.exitcode == 0
    shared.close()
    stop.set()
    shipping.join()
    ids = queued(queue)
    expected = {f"clk_p{i}{n:06d}" for i in range(4) for n in range(500)}
    expected |= {f"clk_t{i}{n:06d}" for i in range(3) for n in range(300)}
    assert sorted(ids) == sorted(expected), "each click once: none lost, none doubled"
    assert sum(sent) == len(expected)
    assert shipper.segments() == []


def test_a_forked_child_writes_its_own_segments(tmp_path: Path) -> None:
    journal = ClickJournal(tmp_path / "j")
    journal.append(body(0, "parent"))
    pid = os.fork()
    if pid == 0:
        journal.append(body(0, "child"))
        os._exit(0)
    os.waitpid(pid, 0)
    journal.append(body(1, "parent"))
    segments = JournalShipper(tmp_path / "j").segments()
    assert len(segments) == 2
    contents = sorted(path.read_text() for path in segments)
    assert contents == sorted([body(0, "child") + "\n", body(0, "parent") + "\n" + body(1, "parent") + "\n"])
