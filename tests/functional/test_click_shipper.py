"""``ship-clicks``' loop: ships while the server appends, waits out a queue outage, ships the rest on stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from multibuzz.adapters.queue.base import OutgoingMessage, QueueUnavailableError, SendResult
from multibuzz.bootstrap import Container
from multibuzz.redirect.journal import ClickJournal
from multibuzz.redirect.service import journal_directory

from infra.local.shipper import run, watch_parent

ROOT = Path(__file__).resolve().parents[2]


class FlakyQueue:
    """Refuses while ``down`` is set, then forwards to the real local queue."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.down = threading.Event()
        self.refused = 0

    def send_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        if self.down.is_set():
            self.refused += 1
            raise QueueUnavailableError("down for maintenance")
        return self.real.send_batch(queue, messages)  # type: ignore[attr-defined, no-any-return]


def wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def test_the_shipper_loop_rides_out_an_outage_and_ships_everything(container: Container) -> None:
    flaky = FlakyQueue(container.local_queue)
    container.__dict__["queue"] = flaky
    journal = ClickJournal(journal_directory(container))
    stop = threading.Event()
    result = []
    thread = threading.Thread(target=lambda: result.append(run(container, stop, interval=0.005)))
    thread.start()
    try:
        for n in range(20):
            journal.append(f'{{"kind":"click.record","id":"clk_a{n}","account_id":"acc_1","payload":{{}}}}')
        wait_for(lambda: container.local_queue.depth("clicks") == 20)
        assert container.local_queue.depth("clicks") == 20

        flaky.down.set()
        for n in range(20):
            journal.append(f'{{"kind":"click.record","id":"clk_b{n}","account_id":"acc_1","payload":{{}}}}')
        wait_for(lambda: flaky.refused >= 2)
        assert container.local_queue.depth("clicks") == 20, "nothing gets through while the queue is down"
        flaky.down.clear()
        wait_for(lambda: container.local_queue.depth("clicks") == 40)
        journal.append('{"kind":"click.record","id":"clk_last","account_id":"acc_1","payload":{}}')
    finally:
        stop.set()
        thread.join(timeout=20)
    assert container.local_queue.depth("clicks") == 41, "the last click went out in the final round"
    assert result[0].queue_error is None and result[0].sent == 41


SERVER_STANDIN = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-m", "infra.local", "ship-clicks", "--parent", str(os.getpid())])
print(child.pid, flush=True)
time.sleep(600)
"""


def test_the_shipper_process_ships_and_exits_when_its_parent_is_killed(
    container: Container, database_url: str, tmp_path: Path
) -> None:
    """Defect 11: a ship-clicks whose server was killed (-9) ships what the journal holds, then exits."""
    env = {**os.environ, "MULTIBUZZ_DATA_DIR": str(container.settings.data_dir), "MULTIBUZZ_DATABASE_URL": database_url}
    parent = subprocess.Popen(
        [sys.executable, "-c", SERVER_STANDIN], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    shipper_pid = 0
    try:
        assert parent.stdout is not None
        shipper_pid = int(parent.stdout.readline())
        journal = ClickJournal(journal_directory(container))
        for n in range(10):
            journal.append(f'{{"kind":"click.record","id":"clk_k{n}","account_id":"acc_1","payload":{{}}}}')
        parent.kill()
        parent.wait()
        wait_for(lambda: not Path(f"/proc/{shipper_pid}").exists() or _zombie(shipper_pid), timeout=30)
        assert not Path(f"/proc/{shipper_pid}").exists() or _zombie(shipper_pid), "ship-clicks outlived its server"
    finally:
        if shipper_pid and Path(f"/proc/{shipper_pid}").exists() and not _zombie(shipper_pid):
            os.kill(shipper_pid, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
    assert container.local_queue.depth("clicks") == 10, "everything journaled was shipped before it exited"


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def test_the_parent_watch_stops_the_shipper_once_re_parented() -> None:
    """The fallback where PR_SET_PDEATHSIG is missing: a parent pid that is no longer ours means it died."""
    stop = threading.Event()
    watch_parent(os.getppid() + 1_000_000, stop, poll=0.01)  # returns once it has set ``stop``
    assert stop.is_set()
    still = threading.Event()
    watcher = threading.Thread(target=watch_parent, args=(os.getppid(), still, 0.01))
    watcher.start()
    time.sleep(0.05)
    assert not still.is_set(), "a live parent keeps it running"
    still.set()
    watcher.join()


def test_a_signal_only_records_itself_and_the_relay_thread_stops_the_shipper() -> None:
    """The SIGTERM/SIGINT handler must take no lock (``Event.set`` does): a signal landing while the main
    thread holds the stop event's lock would deadlock the process. The relay thread sets the event."""
    import threading

    from infra.local.shipper import relay_signals

    stop = threading.Event()
    signalled: list[int] = []
    relay = threading.Thread(target=relay_signals, args=(signalled, stop, 0.01), daemon=True)
    relay.start()
    with stop._cond:  # the main thread inside stop.wait(): the lock a handler calling stop.set() would need
        signalled.append(15)  # what the handler does, and all it does
    relay.join(10)
    assert stop.is_set() and not relay.is_alive()
