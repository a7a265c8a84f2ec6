"""The local queue's front door under ``make serve``: an append-only journal, shipped by another process.

Why: with the durable local queue (SQLite) as the publisher, each ingestion request paid a committed
transaction on the server's event loop (a third of its time in the bench) and, now and then, a WAL
checkpoint with an ``fsync`` (the p99). The redirect's clicks had the same problem and the same answer
(multibuzz.redirect.journal): ``JournalPublisher.send_batch`` appends the messages of one call as JSON
lines with a single ``os.write`` to an ``O_APPEND`` segment and returns; ``python -m infra.local
ship-clicks`` (a process of its own, started and restarted by ``make serve``) moves the lines into the
durable local queue in batches, in order, one transaction each (``MessageJournalShipper``).

What it guarantees (the same as the local queue's own commit, whose SQLite runs with
``synchronous=NORMAL`` and never ``fsync``\\ s a commit):
- durable once ``send_batch`` returns: the lines are the kernel's, so a crash of the server loses nothing
  (a crash of the machine can lose what the kernel had not written back, as with the queue itself);
- order: one writer per process, lines in call order, shipped in order, so a FIFO group keeps the order
  in which the API accepted its messages (under ``make serve`` one server process writes);
- at least once: a crash of the shipper between a send and its offset write sends that batch again; the
  queue's deduplication ids (5 minutes) and the idempotent consumers absorb it;
- a message the queue could never take (a FIFO message without a group) is refused at ``send_batch``,
  as the queue refuses it, so it cannot block the journal; a line that does not parse is set aside in
  ``queue.rejected.jsonl``.
On AWS the events function publishes to SQS directly; this module is only used with
``queue_backend=local`` and ``local_queue_journal`` on (the default for ``stage=local``).
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from multibuzz.adapters.queue.base import OutgoingMessage, QueuePublisher, QueueUnavailableError, SendResult
from multibuzz.redirect.journal import ClickJournal, JournalShipper

_IDS = itertools.count(1)
_STRING = json.encoder.encode_basestring  # a JSON string literal (ensure_ascii=False), as _ENCODE writes one
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode  # one encoder, not one per line


class JournalPublisher:
    """``QueuePublisher`` that appends to the queue journal (see the module docstring)."""

    def __init__(self, directory: Path, *, fifo_queues: Sequence[str] = ()) -> None:
        self.journal = ClickJournal(directory)
        self.fifo_queues = frozenset(fifo_queues)
        self._prefix = f"jrnl-{os.getpid():x}-{time.time_ns():x}"

    def send_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        fifo = queue in self.fifo_queues
        results: list[SendResult] = []
        lines: list[str] = []
        for index, message in enumerate(messages):
            if fifo and not message.group_id:
                results.append(SendResult(index, None, "FIFO queue needs a message group id"))
                continue
            if "\n" in message.body or "\r" in message.body:  # not one line as it is: JSON-escaped inside
                header: dict[str, object] = {"q": queue, "g": message.group_id, "d": message.dedup_id}
                if message.attributes:
                    header["a"] = message.attributes
                lines.append(_ENCODE({**header, "b": message.body}))
            else:  # the header, a tab (never raw in JSON), the body as it is: no second escaping of the body
                head = _header(queue, message.group_id, message.dedup_id, message.attributes)
                lines.append(head + "\t" + message.body)
            results.append(SendResult(index, f"{self._prefix}-{next(_IDS):x}"))
        if lines:
            try:
                self.journal.append("\n".join(lines))  # one write: the call's messages, all or none
            except OSError as exc:
                raise QueueUnavailableError(f"local queue journal unavailable: {exc}") from exc
        return results

    def close(self) -> None:
        self.journal.close()


def _header(queue: str, group_id: str | None, dedup_id: str | None, attributes: dict[str, str] | None = None) -> str:
    """``_ENCODE({"q": queue, "g": group_id, "d": dedup_id[, "a": attributes]})``, the same text, without an
    encoder per line (attributes are string to string: the correlation id)."""
    group = "null" if group_id is None else _STRING(group_id)
    dedup = "null" if dedup_id is None else _STRING(dedup_id)
    if attributes:
        if len(attributes) == 1:  # the correlation id: no generator, no join
            ((key, value),) = attributes.items()
            pairs = f"{_STRING(key)}:{_STRING(value)}"
        else:
            pairs = ",".join(f"{_STRING(key)}:{_STRING(value)}" for key, value in attributes.items())
        return f'{{"q":{_STRING(queue)},"g":{group},"d":{dedup},"a":{{{pairs}}}}}'
    return f'{{"q":{_STRING(queue)},"g":{group},"d":{dedup}}}'


class MessageJournalShipper(JournalShipper):
    """Ships queue-journal lines into the durable local queue, in order, a run of one queue per call."""

    rejected_name = "queue.rejected.jsonl"

    def _decode(self, lines: list[bytes]) -> tuple[list[Any], list[bytes]]:
        """The parsed lines (each parsed once: ``_send`` takes them as they are) and the lines set aside."""
        parsed: list[dict[str, Any]] = []
        bad: list[bytes] = []
        for line in lines:
            value = _parse(line)
            if value is not None:
                parsed.append(value)
            elif line.strip():
                bad.append(line)
        return parsed, bad

    def _send(self, queue: QueuePublisher, bodies: list[Any]) -> None:
        """All of ``bodies`` (parsed lines) or an exception (the round stops and is retried from the same
        offset)."""
        for name, run in itertools.groupby(bodies, key=lambda line: str(line["q"])):
            messages = [
                OutgoingMessage(
                    line["b"], group_id=line.get("g"), dedup_id=line.get("d"), attributes=line.get("a") or {}
                )
                for line in run
            ]
            try:
                results = queue.send_batch(name, messages)
            except QueueUnavailableError:
                raise
            except Exception as exc:  # whatever the adapter raised: treat as the queue being down
                raise QueueUnavailableError(f"{type(exc).__name__}: {exc}") from exc
            refused = [result for result in results if not result.ok]
            if refused or len(results) != len(messages):
                raise QueueUnavailableError(f"queue {name!r} refused {len(refused) or len(messages)} messages")


def _parse(line: bytes) -> dict[str, Any] | None:
    """A journal line: ``{header}<TAB>body``, or ``{header with "b": body}``; None when it is neither."""
    head, tab, rest = line.partition(b"\t")
    try:
        value = json.loads(head)
        if tab:
            value["b"] = rest.decode("utf-8")
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    if isinstance(value, dict) and isinstance(value.get("q"), str) and isinstance(value.get("b"), str):
        return value
    return None


def queue_journal_directory(data_dir: Path) -> Path:
    return Path(data_dir) / "queue-journal"
