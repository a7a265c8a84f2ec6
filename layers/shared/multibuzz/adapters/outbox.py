"""Where messages to people go (invitations, password resets). There is no mailer yet.

``Outbox`` is the port; ``FileOutbox`` appends one JSON line per message to a file under the data
directory, so a local operator (or a test) can read it. A deployment plugs a real mailer by
implementing ``send``. Nothing secret is ever logged: the log line names the kind and the message id only.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: str
    kind: str  # "invitation" | "password_reset"
    to: str
    subject: str
    body: str
    token: str
    created_at: datetime


class Outbox(Protocol):
    def send(self, message: OutboxMessage) -> None: ...


class FileOutbox:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def send(self, message: OutboxMessage) -> None:
        line = json.dumps(
            {
                "id": message.id,
                "kind": message.kind,
                "to": message.to,
                "subject": message.subject,
                "body": message.body,
                "token": message.token,
                "created_at": message.created_at.isoformat(),
            }
        )
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        logger.info("outbox message written", extra={"outbox_kind": message.kind, "outbox_id": message.id})

    def messages(self) -> list[dict[str, str]]:
        """Every message written so far (oldest first); for operators and tests."""
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
