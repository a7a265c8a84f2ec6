"""Fault injection: ``kill -9`` of the local stack mid-burst, then a restart.

A real ``python -m infra.local serve`` process takes a burst of single-event ``POST /api/v1/events`` over
HTTP; the test records every event id it acknowledged (202), kills the whole process group with SIGKILL
while the consumers have messages in flight, starts the stack again over the same data, and requires
every acknowledged event stored exactly once within a minute of the restart. Before start-up recovery
(defect 10) the in-flight messages stayed invisible for the ingest queue's 720 s visibility timeout.
Runs on both databases: the server uses the suite's database (SQLite file or MariaDB).
"""

from __future__ import annotations

import signal
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from multibuzz.db.models import Event
from sqlalchemy import Engine, func, select

from tests.functional.served import ServedStack, wait_until

DEMO_KEY = "sk_live_" + "K1ll" * 10
VISITORS = 12  # FIFO groups: a held message blocks its whole group
SENDERS = 6
ROUNDS = 5


def in_flight(queue_file: Path, queue: str = "ingest") -> int:
    """Messages a consumer has received and neither deleted nor released (read-only look at the file)."""
    if not queue_file.exists():
        return 0
    conn = sqlite3.connect(f"file:{queue_file}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute(
            "SELECT COUNT(*) FROM messages WHERE queue = ? AND receipt_handle IS NOT NULL", (queue,)
        ).fetchone()
        return int(row[0])
    except sqlite3.OperationalError:  # not created yet
        return 0
    finally:
        conn.close()


class Burst:
    """``SENDERS`` threads posting one event per request until told to stop or the server is gone."""

    def __init__(self, base: str, round_: int) -> None:
        self.base = base
        self.round = round_
        self.accepted: list[str] = []
        self.sent = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._send, args=(n,), daemon=True) for n in range(SENDERS)]

    def __enter__(self) -> Burst:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _send(self, sender: int) -> None:
        headers = {"authorization": f"Bearer {DEMO_KEY}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=10) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                body = {
                    "events": [
                        {
                            "event_type": "page_view",
                            "event_id": f"r{self.round}-s{sender}-{n}",
                            "visitor_id": f"kill9-visitor-{n % VISITORS}",
                            "properties": {"url": f"https://shop.example/p/{n}"},
                        }
                    ]
                }
                try:
                    response = client.post("/api/v1/events", json=body)
                except httpx.TransportError:
                    return  # the server is gone: whatever was not acknowledged is the client's to retry
                with self._lock:
                    self.sent += 1
                    if response.status_code == 202:
                        self.accepted.extend(e["id"] for e in response.json()["events"])

    def count(self) -> int:
        with self._lock:
            return len(self.accepted)


@pytest.fixture
def stacks(tmp_path: Path) -> Iterator[list[ServedStack]]:
    started: list[ServedStack] = []
    yield started
    for stack in started:
        stack.cleanup()


@pytest.mark.slow
def test_kill_9_mid_burst_then_restart_stores_every_acknowledged_event_once(
    tmp_path: Path, database_url: str, db_clean: Engine, stacks: list[ServedStack]
) -> None:
    data = tmp_path / "data"
    env = {"MULTIBUZZ_DATABASE_URL": database_url, "MULTIBUZZ_DEMO_API_KEY": DEMO_KEY}
    queue_file = data / "queue.db"
    accepted: list[str] = []
    held = 0
    # The kill has to land while a consumer holds messages; between batches nothing is held. A round that
    # missed (the consumer finished in the microseconds before the kill) is followed by another.
    for _ in range(ROUNDS):
        stack = ServedStack(data, env)
        stacks.append(stack)
        stack.start()
        stack.wait_healthy()
        with Burst(stack.base, round_=len(stacks)) as burst:
            wait_until(lambda: burst.count() >= 40 and in_flight(queue_file) > 0, 120, "burst never got going")
            stack.kill_group()
        accepted.extend(burst.accepted)
        held = in_flight(queue_file)
        if held:
            break
    assert held > 0, f"no kill in {ROUNDS} rounds caught a message in flight"
    assert len(set(accepted)) == len(accepted)

    second = ServedStack(data, env)
    stacks.append(second)
    second.start()
    second.wait_healthy()

    def stored() -> int:
        with db_clean.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(Event).where(Event.id.in_(accepted))) or 0)

    # Within a minute of the restart (the visibility timeout of the ingest queue is 720 s).
    wait_until(lambda: stored() == len(accepted), 60, f"acknowledged events missing after restart ({held} held)")
    with db_clean.connect() as conn:
        doubled = conn.execute(
            select(Event.client_event_id, func.count()).group_by(Event.client_event_id).having(func.count() > 1)
        ).all()
    assert doubled == [], "an event stored twice"
    second.signal(signal.SIGTERM)
    assert second.wait_exit() == 128 + signal.SIGTERM, "a clean stop after the recovery"
