"""The local click journal: how the local redirect hands a click to the clicks queue without paying a commit.

On AWS the redirect sends each click to SQS before it answers (``DirectClickPublisher``). Locally the
clicks queue is a SQLite file: one committed transaction per click would be most of a redirect's cost,
and a thread in the server that group-commits fights the event loop for the GIL (measured: a third of
the throughput). So the local stack splits the hand-off in two, like a log shipper:

- ``ClickJournal`` (in the server process) appends each click as one JSON line, with one ``os.write`` to
  a segment file ``clicks-<writer>-<n>.jsonl`` opened ``O_APPEND``. When ``write`` returns, the line is
  the kernel's: a crash of the server loses nothing (a crash of the machine can lose what the kernel had
  not written back yet, as with any file that is not fsync-ed). Each writer (process) has its own
  segments, holds a shared ``flock`` on the one it is writing, and moves to a new one past
  ``segment_bytes``.
- ``JournalShipper`` (``python -m infra.local ship-clicks``, a process of its own that ``make serve``
  starts; ``replay-clicks`` runs it once) sends complete lines to the clicks queue in batches, one SQLite
  transaction each, then records how far it got in ``offsets.json``. A segment that is fully shipped and
  that no writer holds (the ``flock`` is free) is deleted. If the queue is down nothing advances and the
  next round retries: the journal *is* the spool. Delivery is at least once: a crash between a send and
  the offset write sends that batch again, and the click consumer stores each click id once.
- A line that is not a JSON object, or a partial last line left by a writer that died mid-write, is
  moved to ``clicks.rejected.jsonl`` rather than dropped or retried forever.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from multibuzz.adapters.queue.base import OutgoingMessage, QueuePublisher, QueueUnavailableError
from multibuzz.redirect.locks import exclusive_lock

QUEUE = "clicks"
SEGMENT_BYTES = 64 * 1024 * 1024
SEND_BATCH = 500  # lines per queue transaction
READ_BYTES = 4 * 1024 * 1024  # at most this much of one segment per round (bounded memory)
_PREFIX = "clicks-"
_SUFFIX = ".jsonl"


class ClickJournal:
    """The writer side; thread-safe, and safe across ``fork`` (a child starts its own segments)."""

    def __init__(self, directory: Path, *, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._fd = -1
        self._pid = -1
        self._writer = ""
        self._sequence = 0
        self._written = 0
        os.register_at_fork(after_in_child=self._forget_after_fork)

    def _forget_after_fork(self) -> None:
        """A forked child never appends to its parent's segment: it opens its own on first use."""
        self._lock = threading.Lock()
        if self._fd >= 0:
            os.close(self._fd)  # the child's copy only: the parent keeps its segment (and its lock)
        self._fd = -1

    def append(self, body: str) -> None:
        """One click (a queue message body: one line of JSON, so without raw newlines)."""
        data = (body + "\n").encode()
        with self._lock:
            if self._fd < 0 or self._written >= self.segment_bytes:
                self._open_segment()
            written = os.write(self._fd, data)
            self._written += written
        if written != len(data):  # only on a full disk; the shipper rejects the partial line
            raise OSError(f"short write to the click journal ({written} of {len(data)} bytes)")

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0 and self._pid == os.getpid():
                os.close(self._fd)  # also releases the flock: the shipper may now finish the segment
            self._fd = -1

    def _open_segment(self) -> None:
        if self._pid != os.getpid():  # first use, or a forked child: never write to the parent's segment
            self._pid, self._fd = os.getpid(), -1
            self._writer = f"{os.getpid()}x{time.time_ns():x}"
            self._sequence = 0
        self.directory.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        name = f"{_PREFIX}{self._writer}-{self._sequence:06d}{_SUFFIX}"
        # Created under a name the shipper ignores and renamed once locked: the shipper must never find
        # a new, empty, unlocked segment and delete it before its first line.
        creating = self.directory / f".{name}.creating"
        fd = os.open(creating, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_SH)
        os.rename(creating, self.directory / name)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._written = fd, 0


@dataclass
class ShipReport:
    sent: int = 0
    rejected: int = 0
    pending_bytes: int = 0  # journal bytes not shipped yet (after this round)
    queue_error: str | None = None


def _segment_order(path: Path) -> tuple[str, int]:
    writer, _, sequence = path.name[len(_PREFIX) : -len(_SUFFIX)].rpartition("-")
    return writer, int(sequence) if sequence.isdigit() else 0


class JournalShipper:
    """Moves journal lines into the clicks queue. Several shippers may run; a lock makes them take turns."""

    def __init__(self, directory: Path, *, batch: int = SEND_BATCH, read_bytes: int = READ_BYTES) -> None:
        self.directory = Path(directory)
        self.batch = batch
        self.read_bytes = read_bytes
        self.offsets_path = self.directory / "offsets.json"

    def segments(self) -> list[Path]:
        if not self.directory.exists():
            return []
        return sorted(self.directory.glob(f"{_PREFIX}*{_SUFFIX}"), key=_segment_order)

    def pending_bytes(self) -> int:
        offsets = self._offsets()
        return sum(self._remaining(path, offsets) for path in self.segments())

    def ship(self, queue: QueuePublisher) -> ShipReport:
        """Everything the journal holds right now (in bounded reads), or until the queue refuses."""
        report = ShipReport()
        while True:
            before = report.sent + report.rejected
            self.ship_once(queue, report)
            if report.queue_error or report.pending_bytes == 0 or report.sent + report.rejected == before:
                return report

    def ship_once(self, queue: QueuePublisher, report: ShipReport | None = None) -> ShipReport:
        """One round: up to ``read_bytes`` of each segment."""
        report = report or ShipReport()
        report.pending_bytes = 0
        if not self.directory.exists():
            return report
        with self._turn():
            offsets = self._offsets()
            for path in self.segments():
                if report.queue_error:
                    report.pending_bytes += self._remaining(path, offsets)
                    continue
                self._ship_segment(path, offsets, queue, report)
            live = {path.name for path in self.segments()}
            kept = {name: offset for name, offset in offsets.items() if name in live}
            if kept != offsets or report.sent or report.rejected:
                self._save_offsets(kept)
        return report

    # -- one segment ------------------------------------------------------------------------
    def _ship_segment(self, path: Path, offsets: dict[str, int], queue: QueuePublisher, report: ShipReport) -> None:
        offset = offsets.get(path.name, 0)
        try:
            with path.open("rb") as handle:
                handle.seek(offset)
                data = handle.read(self.read_bytes)
                size = os.fstat(handle.fileno()).st_size
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1  # whole lines only: a writer may be mid-line
        lines = data[:end].splitlines()
        start = 0
        while start < len(lines):
            chunk = lines[start : start + self.batch]
            bodies, bad = self._decode(chunk)
            try:
                self._send(queue, bodies)
            except QueueUnavailableError as exc:
                report.queue_error = str(exc) or type(exc).__name__
                break
            self._reject(bad)
            report.sent += len(bodies)
            report.rejected += len(bad)
            offset += sum(len(line) + 1 for line in chunk)
            offsets[path.name] = offset
            self._save_offsets(offsets)
            start += self.batch
        report.pending_bytes += max(0, size - offset)
        if report.queue_error is None and offset + (len(data) - end) >= size:
            self._finish(path, offsets, report)

    def _finish(self, path: Path, offsets: dict[str, int], report: ShipReport) -> None:
        """Delete a segment that is shipped to its end and that no writer holds any more."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # its writer is still appending
            offset = offsets.get(path.name, 0)
            size = os.fstat(fd).st_size
            tail = os.pread(fd, size - offset, offset) if size > offset else b""
            if b"\n" in tail:
                return  # lines arrived after our read: ship them next round
            if tail:  # the partial last line of a writer that died mid-write
                self._reject([tail])
                report.rejected += 1
                report.pending_bytes = max(0, report.pending_bytes - len(tail))
            path.unlink(missing_ok=True)
            offsets.pop(path.name, None)
        finally:
            os.close(fd)

    def _remaining(self, path: Path, offsets: dict[str, int]) -> int:
        try:
            return max(0, path.stat().st_size - offsets.get(path.name, 0))
        except FileNotFoundError:
            return 0

    # -- bookkeeping ------------------------------------------------------------------------
    def _turn(self) -> AbstractContextManager[None]:
        return exclusive_lock(self.directory / "shipper.lock")

    def _offsets(self) -> dict[str, int]:
        try:
            value = json.loads(self.offsets_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return {str(k): int(v) for k, v in value.items()} if isinstance(value, dict) else {}

    def _save_offsets(self, offsets: dict[str, int]) -> None:
        temporary = self.offsets_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(offsets), encoding="utf-8")
        os.replace(temporary, self.offsets_path)

    # -- what a line is (multibuzz.adapters.queue.journal ships other messages with the same machinery) --
    rejected_name = "clicks.rejected.jsonl"

    def _decode(self, lines: list[bytes]) -> tuple[list[Any], list[bytes]]:
        """(what ``_send`` takes, one item per good line; the lines to set aside)."""
        return _decode(lines)

    def _send(self, queue: QueuePublisher, bodies: list[Any]) -> None:
        _send(queue, bodies)

    def _reject(self, lines: list[bytes]) -> None:
        if lines:
            with (self.directory / self.rejected_name).open("ab") as handle:
                handle.write(b"".join(line.rstrip(b"\n") + b"\n" for line in lines))


def _decode(lines: list[bytes]) -> tuple[list[str], list[bytes]]:
    """Queue bodies from journal lines. A line that is not UTF-8 text of the shape of a JSON object is
    set aside here; one that has the shape but does not parse is dead-lettered by the click consumer,
    as any malformed message is (parsing every line here would double the shipper's cost)."""
    bodies: list[str] = []
    bad: list[bytes] = []
    for line in lines:
        if line.startswith(b"{") and line.endswith(b"}"):
            try:
                bodies.append(line.decode("utf-8"))
                continue
            except UnicodeDecodeError:
                pass
        if line.strip():
            bad.append(line)
    return bodies, bad


def _send(queue: QueuePublisher, bodies: list[str]) -> None:
    """All of ``bodies`` or an exception: a message the queue refuses stops the round (retried later)."""
    if not bodies:
        return
    try:
        results = queue.send_batch(QUEUE, [OutgoingMessage(body) for body in bodies])
    except QueueUnavailableError:
        raise
    except Exception as exc:  # whatever the adapter raised: treat as the queue being down
        raise QueueUnavailableError(f"{type(exc).__name__}: {exc}") from exc
    refused = [result for result in results if not result.ok]
    if refused or len(results) != len(bodies):
        raise QueueUnavailableError(f"the clicks queue refused {len(refused) or len(bodies) - len(results)} messages")
