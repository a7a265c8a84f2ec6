"""``python -m infra.local ship-clicks``: the click journal shipper as a process of its own.

The local redirect appends clicks to the click journal (multibuzz.redirect.journal); this process moves
them into the durable local queue, one SQLite transaction per batch, every ``interval`` (50 ms); so does it
with the queue journal that publishers append to under ``make serve`` (multibuzz.adapters.queue.journal). It is a
separate process so that its SQLite work never competes with the server's event loop for the GIL.
``make serve`` starts it (``LocalRuntime``) and restarts it if it dies; SIGTERM makes it ship what is
left and exit; so does the death of the server, however it died (``die_with_parent``). While the queue
is down it backs off (up to 2 s) and retries; the journal keeps the clicks.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from multibuzz.adapters.queue.journal import MessageJournalShipper, queue_journal_directory
from multibuzz.bootstrap import Container, get_container
from multibuzz.observability import get_logger
from multibuzz.redirect.journal import JournalShipper, ShipReport
from multibuzz.redirect.service import journal_directory

logger = get_logger("shipper")
ROOT = Path(__file__).resolve().parents[2]
MAX_BACKOFF = 2.0


def run(container: Container, stop: threading.Event, interval: float = 0.05) -> ShipReport:
    """Ship until ``stop`` is set, then one last round; returns the totals."""
    shipper = JournalShipper(journal_directory(container))
    # The queue journal (multibuzz.adapters.queue.journal), when publishers use it, goes the same way.
    settings = container.settings
    queue_shipper = (
        MessageJournalShipper(queue_journal_directory(settings.data_dir)) if settings.uses_queue_journal else None
    )
    # With the journal on, ``container.queue`` is the journal itself: ship into the queue behind it.
    target = container.local_queue if settings.uses_queue_journal else container.queue
    total = ShipReport()
    delay = interval
    failing = False
    while True:
        stopping = stop.is_set()
        report = shipper.ship(target)
        if queue_shipper is not None:
            queued = queue_shipper.ship(target)
            report.sent += queued.sent
            report.rejected += queued.rejected
            report.pending_bytes += queued.pending_bytes
            report.queue_error = report.queue_error or queued.queue_error
        total.sent += report.sent
        total.rejected += report.rejected
        total.pending_bytes, total.queue_error = report.pending_bytes, report.queue_error
        if report.rejected:
            logger.warning("unreadable journal lines set aside", extra={"count": report.rejected})
        if report.queue_error:
            if not failing:
                reason = {"reason": report.queue_error}
                logger.warning("clicks queue unavailable; clicks wait in the journal", extra=reason)
            failing, delay = True, min(MAX_BACKOFF, delay * 2)
        else:
            if failing:
                logger.info("clicks queue back; journal shipping resumed")
            failing, delay = False, interval
        if stopping:
            return total
        stop.wait(delay)


def main(argv: list[str] | None = None) -> int:
    stop = threading.Event()
    signalled: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # No lock here: ``stop.set()`` takes the event's lock, and a signal that arrives while this (main)
        # thread holds it — inside ``stop.wait()`` — deadlocks the process for good (seen as a ship-clicks
        # child outliving a SIGKILLed server, both threads in futex_do_wait). A relay thread sets it.
        signalled.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threading.Thread(target=relay_signals, args=(signalled, stop), name="signal-relay", daemon=True).start()
    args = argv or []
    if args[:1] == ["--parent"] and len(args) == 2:
        die_with_parent(int(args[1]), stop)
    total = run(get_container(), stop)
    return 0 if total.queue_error is None else 1


def relay_signals(signalled: list[int], stop: threading.Event, poll: float = 0.05) -> None:
    """Set ``stop`` (from this thread, never from the signal handler) once a signal has been recorded."""
    while not stop.is_set():
        if signalled:
            stop.set()
            return
        time.sleep(poll)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int, stop: threading.Event, poll: float = 0.5) -> None:
    """Ship what is left and exit when the server that started this process goes, however it went.

    On Linux the kernel sends SIGTERM when the parent dies (``prctl(PR_SET_PDEATHSIG)``; strictly, when the
    parent *thread* that spawned us ends — the server's main thread, or the watchdog that restarts us, which
    only ends when the server stops us anyway). A watch on ``getppid()`` covers other systems and a parent
    that died before the ``prctl`` call: it notices within ``poll`` seconds.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
                logger.warning("prctl(PR_SET_PDEATHSIG) failed", extra={"errno": ctypes.get_errno()})
        except (OSError, AttributeError) as exc:
            logger.warning("prctl unavailable; watching the parent pid only", extra={"error": str(exc)})
    threading.Thread(target=watch_parent, args=(parent, stop, poll), name="parent-watch", daemon=True).start()


def watch_parent(parent: int, stop: threading.Event, poll: float = 0.5) -> None:
    """Set ``stop`` as soon as this process's parent is no longer ``parent`` (it died: we were re-parented)."""
    while not stop.is_set():
        if os.getppid() != parent:
            logger.warning("server process gone; shipping what is left and exiting", extra={"parent": parent})
            stop.set()
            return
        stop.wait(poll)


class ShipperProcess:
    """``ship-clicks`` as a child of the local server, restarted if it exits unexpectedly."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    def start(self) -> None:
        self._spawn()
        self._watchdog = threading.Thread(target=self._watch, name="click-shipper-watchdog", daemon=True)
        self._watchdog.start()

    def _spawn(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra.local", "ship-clicks", "--parent", str(os.getpid())], cwd=ROOT, env=os.environ
        )

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            if self.process is not None and self.process.poll() is not None:
                logger.warning("click shipper exited; restarting", extra={"returncode": self.process.returncode})
                self._spawn()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=5)
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # ships what is left first
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
