"""A durable local queue in a SQLite file, with the SQS semantics the consumers rely on.

- at-least-once delivery with a visibility timeout and receipt handles;
- FIFO queues: messages of one group are delivered in order and never while an
  earlier message of the group is in flight; deduplication ids are honoured for
  five minutes, as SQS does;
- ``receive_count`` is kept so a dispatcher can dead-letter after N attempts;
- everything is committed before ``send_batch`` returns, so a restart loses nothing;
- ``receive`` records which process took a message, and ``recover_orphans`` (run at start-up) makes
  what a killed process held visible again at once instead of after the visibility timeout.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from multibuzz.adapters.queue.base import OutgoingMessage, QueueUnavailableError, SendResult
from multibuzz.ids import random_bytes

DEDUP_WINDOW_SECONDS = 300.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    group_id TEXT,
    dedup_id TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    sent_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt_handle TEXT
);
CREATE INDEX IF NOT EXISTS ix_messages_queue_visible ON messages (queue, visible_at);
DROP INDEX IF EXISTS ix_messages_receipt;
CREATE INDEX IF NOT EXISTS ix_messages_receipt_held ON messages (receipt_handle) WHERE receipt_handle IS NOT NULL;
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    group_id TEXT,
    dedup_id TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    sent_at REAL NOT NULL,
    receive_count INTEGER NOT NULL,
    reason TEXT,
    dead_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dedup (
    queue TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (queue, dedup_id)
);
-- Every FIFO send purges expired deduplication ids: by this index, not a scan of five minutes' worth.
CREATE INDEX IF NOT EXISTS ix_dedup_queue_expires ON dedup (queue, expires_at);
"""


def _message_id() -> str:
    """A UUIDv7 (RFC 9562) as text, like an SQS message id: time-ordered, so inserts into the unique
    index land at its end instead of at random pages (random v4 ids made big batches page-bound)."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(random_bytes(10), "big")
    value = (value & ~(0xF << 76) & ~(0x3 << 62)) | (0x7 << 76) | (0x2 << 62)  # version 7, RFC 4122 variant
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _log_unavailable(queue: str, exc: sqlite3.Error) -> None:
    from multibuzz.observability import get_logger

    get_logger("local-queue").warning(
        "local queue send failed", extra={"queue": queue, "error": f"{type(exc).__name__}: {exc}"}
    )


def _add_owner_column(conn: sqlite3.Connection) -> None:
    """Queue files made before start-up recovery lack ``messages.owner``: add it (NULL = unknown owner)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(messages)")}
    if "owner" not in columns:
        conn.execute("ALTER TABLE messages ADD COLUMN owner TEXT")


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown-boot"


def _start_time(pid: int) -> str | None:
    """The pid's start time in clock ticks since boot (``/proc/PID/stat`` field 22); None if it is gone
    (or a zombie: dead, not yet reaped)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return None if fields[0] == "Z" else fields[19]


class _Consumer:
    """Who receives, as ``boot-id/pid/start-time``: a pid alone may be reused by an unrelated process."""

    def __init__(self) -> None:
        self._pid = -1
        self._token = ""

    @property
    def token(self) -> str:
        pid = os.getpid()
        if pid != self._pid:  # computed once per process (and again in a forked child)
            self._pid, self._token = pid, f"{_boot_id()}/{pid}/{_start_time(pid) or 'x'}"
        return self._token


CONSUMER = _Consumer()


def _owner_alive(owner: str) -> bool:
    """Whether the consumer process named by ``owner`` may still run; in doubt, yes (leave it alone)."""
    boot, _, rest = owner.partition("/")
    pid_text, _, started = rest.partition("/")
    if boot != _boot_id():
        return False  # the machine rebooted since: nothing of then runs now
    try:
        pid = int(pid_text)
    except ValueError:
        return True
    if started != "x" and Path("/proc").is_dir():
        return _start_time(pid) == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_ROW = "seq, message_id, body, group_id, dedup_id, attributes, sent_at, receive_count"
_IN_CHUNK = 500  # bound variables per statement (SQLite allows 999 in old builds)


def _rows_by_seq(conn: sqlite3.Connection, seqs: Sequence[int]) -> list[tuple[Any, ...]]:
    """The rows of these messages, in ``seqs`` order (which is queue order)."""
    rows: dict[int, tuple[Any, ...]] = {}
    for i in range(0, len(seqs), _IN_CHUNK):
        chunk = seqs[i : i + _IN_CHUNK]
        marks = ", ".join("?" * len(chunk))
        for row in conn.execute(f"SELECT {_ROW} FROM messages WHERE seq IN ({marks})", chunk):  # noqa: S608
            rows[row[0]] = row
    return [rows[seq] for seq in seqs if seq in rows]


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    queue: str
    message_id: str
    receipt_handle: str
    body: str
    group_id: str | None
    dedup_id: str | None
    attributes: dict[str, str]
    sent_at: float
    receive_count: int
    sequence: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    queue: str
    message_id: str
    body: str
    group_id: str | None
    receive_count: int
    reason: str | None
    dead_at: float


class LocalQueue:
    """Thread-safe and multi-process-safe (SQLite WAL + BEGIN IMMEDIATE)."""

    def __init__(
        self,
        path: Path,
        *,
        fifo_queues: Sequence[str] = (),
        now: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.fifo_queues = frozenset(fifo_queues)
        self._now = now
        self._local = threading.local()
        self._init_lock = threading.Lock()
        self._initialised = False

    # -- connection handling -------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=30000")
            # Switching a file to WAL needs it to itself and can fail at once ("database is locked") rather
            # than wait, so the first connection of this process does it, with the schema, before any other
            # proceeds. WAL is a property of the file: later connections (and processes) simply find it.
            with self._init_lock:
                if not self._initialised:
                    self._initialise(conn)
                    self._initialised = True
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @staticmethod
    def _initialise(conn: sqlite3.Connection) -> None:
        for attempt in range(50):  # another process may be initialising the same file right now
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
                _add_owner_column(conn)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.02 * (attempt + 1))

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- producer side -------------------------------------------------------------------
    def send_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        now = self._now()
        results: list[SendResult] = []
        fifo = queue in self.fifo_queues
        if not fifo:
            return self._send_standard(queue, messages, now)
        try:
            with self._tx() as conn:
                if fifo:
                    conn.execute("DELETE FROM dedup WHERE queue = ? AND expires_at < ?", (queue, now))
                for index, message in enumerate(messages):
                    if fifo and not message.group_id:
                        results.append(SendResult(index, None, "FIFO queue needs a message group id"))
                        continue
                    if fifo and message.dedup_id:
                        row = conn.execute(
                            "SELECT message_id FROM dedup WHERE queue = ? AND dedup_id = ?",
                            (queue, message.dedup_id),
                        ).fetchone()
                        if row is not None:
                            results.append(SendResult(index, row[0]))
                            continue
                    message_id = _message_id()
                    conn.execute(
                        "INSERT INTO messages (queue, message_id, body, group_id, dedup_id, attributes,"
                        " sent_at, visible_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            queue,
                            message_id,
                            message.body,
                            message.group_id,
                            message.dedup_id,
                            json.dumps(message.attributes),
                            now,
                            now,
                        ),
                    )
                    if fifo and message.dedup_id:
                        conn.execute(
                            "INSERT INTO dedup (queue, dedup_id, message_id, expires_at) VALUES (?, ?, ?, ?)",
                            (queue, message.dedup_id, message_id, now + DEDUP_WINDOW_SECONDS),
                        )
                    results.append(SendResult(index, message_id))
        except sqlite3.Error as exc:
            _log_unavailable(queue, exc)
            raise QueueUnavailableError(f"local queue {queue!r} unavailable: {exc}") from exc
        return results

    def _send_standard(self, queue: str, messages: Sequence[OutgoingMessage], now: float) -> list[SendResult]:
        """A standard queue has no groups or deduplication: one ``executemany`` (the loop runs in C)."""
        ids = [_message_id() for _ in messages]
        rows = [
            (queue, message_id, m.body, None, m.dedup_id, json.dumps(m.attributes) if m.attributes else "{}", now, now)
            for message_id, m in zip(ids, messages, strict=True)
        ]
        try:
            with self._tx() as conn:
                conn.executemany(
                    "INSERT INTO messages (queue, message_id, body, group_id, dedup_id, attributes, sent_at,"
                    " visible_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        except sqlite3.Error as exc:
            _log_unavailable(queue, exc)
            raise QueueUnavailableError(f"local queue {queue!r} unavailable: {exc}") from exc
        return [SendResult(index, message_id) for index, message_id in enumerate(ids)]

    # -- consumer side -------------------------------------------------------------------
    def receive(self, queue: str, max_messages: int = 10, visibility_timeout: float = 30.0) -> list[ReceivedMessage]:
        now = self._now()
        fifo = queue in self.fifo_queues
        with self._tx() as conn:
            if fifo:
                blocked = {
                    row[0]
                    for row in conn.execute(
                        "SELECT DISTINCT group_id FROM messages WHERE queue = ? AND visible_at > ?",
                        (queue, now),
                    )
                }
                # The candidates' order and groups only: the bodies are read for the chosen ones alone.
                candidates = conn.execute(
                    "SELECT seq, group_id FROM messages WHERE queue = ? ORDER BY seq LIMIT ?",
                    (queue, max(200, max_messages * 20)),
                ).fetchall()
                seqs = [seq for seq, group in candidates if group not in blocked][:max_messages]
            else:
                seqs = [
                    row[0]
                    for row in conn.execute(
                        "SELECT seq FROM messages WHERE queue = ? AND visible_at <= ? ORDER BY seq LIMIT ?",
                        (queue, now, max_messages),
                    )
                ]
            chosen = _rows_by_seq(conn, seqs)
            owner = CONSUMER.token
            handles = [base64.urlsafe_b64encode(random_bytes(16)).decode().rstrip("=") for _ in chosen]
            conn.executemany(
                "UPDATE messages SET visible_at = ?, receive_count = receive_count + 1, receipt_handle = ?,"
                " owner = ? WHERE seq = ?",
                [
                    (now + visibility_timeout, handle, owner, row[0])
                    for handle, row in zip(handles, chosen, strict=True)
                ],
            )
            return [
                ReceivedMessage(
                    queue=queue,
                    message_id=message_id,
                    receipt_handle=handle,
                    body=body,
                    group_id=group_id,
                    dedup_id=dedup_id,
                    attributes=json.loads(attributes),
                    sent_at=sent_at,
                    receive_count=count + 1,
                    sequence=seq,
                )
                for handle, (seq, message_id, body, group_id, dedup_id, attributes, sent_at, count) in zip(
                    handles, chosen, strict=True
                )
            ]

    def delete(self, queue: str, receipt_handle: str) -> bool:
        return self.delete_batch(queue, [receipt_handle]) == 1

    def delete_batch(self, queue: str, receipt_handles: Sequence[str]) -> int:
        """Delete these received messages in one transaction (a batch's successes); returns how many were."""
        if not receipt_handles:
            return 0
        with self._tx() as conn:
            cur = conn.executemany(
                "DELETE FROM messages WHERE queue = ? AND receipt_handle = ?",
                [(queue, handle) for handle in receipt_handles],
            )
            return int(cur.rowcount)

    def release(self, queue: str, receipt_handle: str, delay_seconds: float = 0.0) -> bool:
        """Make a received message visible again after ``delay_seconds`` (a retry with backoff)."""
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE messages SET visible_at = ?, receipt_handle = NULL WHERE queue = ? AND receipt_handle = ?",
                (self._now() + delay_seconds, queue, receipt_handle),
            )
            return cur.rowcount == 1

    def dead_letter(self, queue: str, receipt_handle: str, reason: str | None) -> bool:
        with self._tx() as conn:
            row = conn.execute(
                "SELECT seq, message_id, body, group_id, dedup_id, attributes, sent_at, receive_count"
                " FROM messages WHERE queue = ? AND receipt_handle = ?",
                (queue, receipt_handle),
            ).fetchone()
            if row is None:
                return False
            seq, message_id, body, group_id, dedup_id, attributes, sent_at, count = row
            conn.execute(
                "INSERT INTO dead_letters (queue, message_id, body, group_id, dedup_id, attributes, sent_at,"
                " receive_count, reason, dead_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    queue,
                    message_id,
                    body,
                    group_id,
                    dedup_id,
                    attributes,
                    sent_at,
                    count,
                    reason,
                    self._now(),
                ),
            )
            conn.execute("DELETE FROM messages WHERE seq = ?", (seq,))
            return True

    # -- start-up recovery ---------------------------------------------------------------
    def recover_orphans(self) -> int:
        """Make every message a dead consumer process had in flight visible again, now; returns how many.

        ``receive`` records who took a message (boot id, pid and the pid's start time). A process killed
        with ``kill -9`` never deletes or releases what it held, which SQS would only hand out again after
        the visibility timeout (720 s on the ingest queue), holding each FIFO group that long. Called at
        start-up (``LocalRuntime.start``), this releases them at once. Only owners that are certainly gone
        are released: a live process's in-flight messages, even another server's, are left alone. The
        receive stays counted, as SQS counts a receive whose visibility timed out, so a message that kills
        its consumer each time still reaches the dead-letter store. FIFO order holds: the released
        messages keep their place (``seq``) and their group is unblocked as a whole.
        """
        now = self._now()
        with self._tx() as conn:
            owners = [
                row[0]
                for row in conn.execute(
                    "SELECT DISTINCT owner FROM messages WHERE receipt_handle IS NOT NULL AND owner IS NOT NULL"
                )
            ]
            released = 0
            for owner in owners:
                if owner == CONSUMER.token or _owner_alive(owner):
                    continue
                cur = conn.execute(
                    "UPDATE messages SET visible_at = ?, receipt_handle = NULL, owner = NULL"
                    " WHERE owner = ? AND receipt_handle IS NOT NULL",
                    (now, owner),
                )
                released += cur.rowcount
        if released:
            from multibuzz.observability import get_logger

            get_logger("local-queue").warning(
                "released messages held by a dead consumer", extra={"count": released, "owners": len(owners)}
            )
        return released

    # -- operations ----------------------------------------------------------------------
    def depth(self, queue: str) -> int:
        row = self._conn().execute("SELECT COUNT(*) FROM messages WHERE queue = ?", (queue,)).fetchone()
        return int(row[0])

    def dead_letters(self, queue: str) -> list[DeadLetter]:
        rows = (
            self._conn()
            .execute(
                "SELECT queue, message_id, body, group_id, receive_count, reason, dead_at FROM dead_letters"
                " WHERE queue = ? ORDER BY seq",
                (queue,),
            )
            .fetchall()
        )
        return [DeadLetter(*row) for row in rows]

    def redrive(self, queue: str) -> int:
        """Move every dead letter of ``queue`` back to the queue (attempts reset)."""
        now = self._now()
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT seq, message_id, body, group_id, dedup_id, attributes, sent_at FROM dead_letters"
                " WHERE queue = ? ORDER BY seq",
                (queue,),
            ).fetchall()
            for seq, message_id, body, group_id, dedup_id, attributes, sent_at in rows:
                conn.execute(
                    "INSERT INTO messages (queue, message_id, body, group_id, dedup_id, attributes, sent_at,"
                    " visible_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (queue, message_id, body, group_id, dedup_id, attributes, sent_at, now),
                )
                conn.execute("DELETE FROM dead_letters WHERE seq = ?", (seq,))
        return len(rows)
