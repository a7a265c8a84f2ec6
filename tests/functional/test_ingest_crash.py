"""A 202 from ``make serve`` is durable: kill -9 the whole local stack and every accepted event is still stored.

Under ``make serve`` the events function appends to the queue journal and the ``ship-clicks`` process moves
it into the local queue. Here the server and its shipper are killed with SIGKILL right after the last 202;
whatever the shipper had not moved yet is shipped afterwards, as the next start does, and consumed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from multibuzz.adapters.queue.journal import MessageJournalShipper, queue_journal_directory
from multibuzz.adapters.queue.local import LocalQueue
from multibuzz.db.engine import make_engine
from multibuzz.db.models import Event
from sqlalchemy import func, select

from infra.local.dispatch import deliver_once, load_handler
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
DEMO_KEY = "sk_live_" + "Cr4sh" * 8


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def test_every_202_survives_a_kill_9_of_the_stack(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    env = {
        **os.environ,
        "MULTIBUZZ_STAGE": "local",  # the queue journal is on, as under `make serve`
        "MULTIBUZZ_DATA_DIR": str(data),
        "MULTIBUZZ_DATABASE_URL": f"sqlite:///{data / 'crash.db'}",
        "MULTIBUZZ_PORT": str(port),
        "MULTIBUZZ_DEMO_API_KEY": DEMO_KEY,
        "MULTIBUZZ_RUN_SCHEDULES": "false",
        "MULTIBUZZ_DEMO_DATA": "false",  # exactly the 60 events this test sends
    }
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "infra.local", "serve"], env=env, stdout=log, stderr=log, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    accepted: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.get(f"{base}/api/health-lite", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        headers = {"authorization": f"Bearer {DEMO_KEY}"}
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            for n in range(60):
                event = {"event_type": "page_view", "visitor_id": f"{n % 3:064x}", "event_id": f"crash-{n}"}
                answer = client.post("/api/v1/events", json={"events": [event]})
                assert answer.status_code == 202, answer.text
                accepted.append(answer.json()["events"][0]["id"])
    finally:
        stack = [proc.pid, *children(proc.pid)]
        for pid in stack:  # the server and the shipper it started: a crash of the whole local stack
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=20)
        log.close()

    queue = LocalQueue(data / "queue.db", fifo_queues=("ingest",))
    MessageJournalShipper(queue_journal_directory(data)).ship(queue)  # as the next start's shipper does
    # Messages the killed consumer threads had received stay invisible for the visibility timeout (12 min);
    # releasing a dead consumer's messages at start-up is the local queue's recovery, not this test's subject.
    with queue._tx() as conn:
        conn.execute("UPDATE messages SET visible_at = 0, receipt_handle = NULL")
    handler = load_handler("attribution")
    from multibuzz.bootstrap import Container, use_container
    from multibuzz.settings import Settings

    container = Container(
        Settings(stage="test", data_dir=data, database_url=f"sqlite:///{data / 'crash.db'}"), queue=queue
    )
    use_container(container)
    try:
        while deliver_once(queue, "ingest", handler, backoff_seconds=0).received:
            pass
    finally:
        use_container(None)
    engine = make_engine(f"sqlite:///{data / 'crash.db'}")
    with engine.connect() as conn:
        stored = set(conn.scalars(select(Event.id)))
        count = conn.scalar(select(func.count()).select_from(Event))
    engine.dispose()
    assert set(accepted) <= stored, f"{len(set(accepted) - stored)} accepted events were lost"
    assert count == len(accepted), "each stored once"
