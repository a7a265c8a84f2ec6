"""Where a click goes when the clicks queue can't take it, and how it gets back.

``FileClickSpool``: one JSON line per queue message body, appended under an exclusive ``flock`` on
a side lock file and ``fsync``-ed before the redirect answers, so a crash right after the 302 loses
nothing. ``drain`` moves the file aside (atomically, under the same lock, so concurrent appends go to
a fresh file), sends its lines to the queue in batches, and puts back whatever the queue refused.
A line that fails to parse is kept in ``clicks.rejected.jsonl`` rather than dropped.

Locally the spool lives in ``<data_dir>/spool/clicks.jsonl`` and ``python -m infra.local
replay-clicks`` drains it. On Lambda the only writable disk is the execution environment's ``/tmp``,
which disappears with the environment, so there a spooled click is *also* written as one structured
log line (``"message": "click_spooled"`` with the full message body): CloudWatch Logs is the durable
copy, and an operator replays those lines (Logs Insights export → ``replay-clicks --from FILE``).
The log line carries only what the queue message carries (IP already truncated/hashed per account).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from multibuzz.adapters.queue.base import OutgoingMessage, QueuePublisher, QueueUnavailableError
from multibuzz.redirect.locks import exclusive_lock

QUEUE = "clicks"
_BATCH = 10


class ClickSpool(Protocol):
    def append(self, bodies: Sequence[str]) -> None: ...

    def drain(self, publisher: QueuePublisher) -> DrainReport: ...

    def pending(self) -> int: ...


@dataclass
class DrainReport:
    sent: int = 0
    kept: int = 0  # still spooled (queue refused them)
    rejected: int = 0  # unreadable lines moved to clicks.rejected.jsonl


class FileClickSpool:
    def __init__(self, directory: Path, *, log_copy: bool = False) -> None:
        self.directory = Path(directory)
        self.path = self.directory / "clicks.jsonl"
        self.log_copy = log_copy

    def _locked(self) -> AbstractContextManager[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        return exclusive_lock(self.directory / "clicks.lock")

    def _write(self, path: Path, bodies: Sequence[str]) -> None:
        data = "".join(json.dumps(body) + "\n" for body in bodies).encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def append(self, bodies: Sequence[str]) -> None:
        if not bodies:
            return
        if self.log_copy:
            from multibuzz.observability import get_logger

            logger = get_logger("redirect")
            for body in bodies:
                logger.warning("click_spooled", extra={"spooled_message": body})
        with self._locked():
            self._write(self.path, bodies)

    def pending(self) -> int:
        count = 0
        for path in [self.path, *sorted(self.directory.glob("clicks.draining-*.jsonl"))]:
            if path.exists():
                with path.open("rb") as handle:
                    count += sum(1 for line in handle if line.strip())
        return count

    def drain(self, publisher: QueuePublisher) -> DrainReport:
        report = DrainReport()
        if not self.directory.exists():
            return report
        with self._locked():
            if self.path.exists():
                self.path.rename(self.directory / f"clicks.draining-{time.time_ns()}.jsonl")
        for path in sorted(self.directory.glob("clicks.draining-*.jsonl")):  # also leftovers of a crashed drain
            self._drain_file(path, publisher, report)
        return report

    def _drain_file(self, path: Path, publisher: QueuePublisher, report: DrainReport) -> None:
        bodies: list[str] = []
        bad: list[str] = []
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    body = json.loads(line)
                except ValueError:
                    bad.append(line.rstrip("\n"))
                    continue
                if isinstance(body, str):
                    bodies.append(body)
                else:
                    bad.append(line.rstrip("\n"))
        refused: list[str] = []
        for start in range(0, len(bodies), _BATCH):
            chunk = bodies[start : start + _BATCH]
            try:
                results = publisher.send_batch(QUEUE, [OutgoingMessage(body) for body in chunk])
            except QueueUnavailableError:
                refused.extend(bodies[start:])
                break
            ok = {result.index for result in results if result.ok}
            report.sent += len(ok)
            refused.extend(body for index, body in enumerate(chunk) if index not in ok)
        with self._locked():
            if refused:
                self._write(self.path, refused)
            if bad:
                with (self.directory / "clicks.rejected.jsonl").open("a", encoding="utf-8") as handle:
                    handle.write("".join(line + "\n" for line in bad))
            path.unlink()
        report.kept += len(refused)
        report.rejected += len(bad)


def import_lines(lines: Iterable[str]) -> list[str]:
    """Queue message bodies from spool lines (JSON strings) or structured ``click_spooled`` log lines."""
    bodies: list[str] = []
    for line in lines:
        text = line.strip()
        if not text:
            continue
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, str):
            bodies.append(value)
        elif isinstance(value, dict) and isinstance(value.get("spooled_message"), str):
            bodies.append(value["spooled_message"])
    return bodies
