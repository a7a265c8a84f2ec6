"""Failed-login throttling per e-mail and per client IP, with its state in the database.

Every API instance (every Lambda execution environment) reads and writes the same
``login_throttles`` rows, so the limit holds across instances. The rows are keyed by a
digest of the normalised e-mail — whether or not a user has that address, so the
answers never reveal which addresses exist — and by the client's IP.

A key may fail ``max_failures`` times per window; then every attempt is refused with 429
until the window ends (``Retry-After`` says when). A successful login clears its e-mail's
counter only: it never clears the IP's counter, so one attacker's own account does not
buy them more guesses at others.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from multibuzz.clock import Clock
from multibuzz.db.models import LoginThrottle as ThrottleRow
from multibuzz.errors import RateLimitedError


def email_key(email: str) -> str:
    return "email:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


def ip_key(ip: str | None) -> str | None:
    return f"ip:{ip[:90]}" if ip else None


@dataclass
class LoginThrottle:
    sessions: sessionmaker[Session]
    clock: Clock
    max_per_email: int
    max_per_ip: int
    window: timedelta

    def _limits(self, email: str, ip: str | None) -> list[tuple[str, int]]:
        keys = [(email_key(email), self.max_per_email)]
        by_ip = ip_key(ip)
        if by_ip is not None:
            keys.append((by_ip, self.max_per_ip))
        return keys

    def check(self, email: str, ip: str | None) -> None:
        """Raise 429 (with Retry-After) while the e-mail or the IP is locked out."""
        now = self.clock.now()
        keys = self._limits(email, ip)
        with self.sessions() as session:
            rows = session.scalars(select(ThrottleRow).where(ThrottleRow.key.in_([k for k, _ in keys]))).all()
        wait = max((self._wait(row, now) for row in rows), default=0.0)
        if wait > 0:
            raise RateLimitedError("too many failed logins; try again later", retry_after=max(1, math.ceil(wait)))

    @staticmethod
    def _wait(row: ThrottleRow, now: datetime) -> float:
        if row.locked_until is None or row.locked_until <= now:
            return 0.0
        return (row.locked_until - now).total_seconds()

    def failed(self, email: str, ip: str | None) -> None:
        """Count one failure against the e-mail and the IP, in a transaction of its own (it must outlive the 401)."""
        now = self.clock.now()
        for key, limit in self._limits(email, ip):
            self._count(key, limit, now)

    def _count(self, key: str, limit: int, now: datetime) -> None:
        for _attempt in range(3):
            with self.sessions() as session, session.begin():
                row = session.scalar(select(ThrottleRow).where(ThrottleRow.key == key).with_for_update())
                if row is None:
                    session.add(
                        ThrottleRow(
                            key=key,
                            failures=1,
                            window_started_at=now,
                            locked_until=now + self.window if limit <= 1 else None,
                        )
                    )
                    try:
                        session.flush()
                    except IntegrityError:  # another instance inserted it first: count again as an update
                        session.rollback()
                        continue
                    return
                if row.window_started_at + self.window <= now and (row.locked_until is None or row.locked_until <= now):
                    row.failures = 1
                    row.window_started_at = now
                    row.locked_until = None
                else:
                    session.execute(
                        update(ThrottleRow).where(ThrottleRow.key == key).values(failures=ThrottleRow.failures + 1)
                    )
                    session.refresh(row)
                if row.failures >= limit and row.locked_until is None:
                    row.locked_until = now + self.window
                return

    def succeeded(self, email: str) -> None:
        """A right password clears the e-mail's counter (never the IP's)."""
        with self.sessions() as session, session.begin():
            session.execute(delete(ThrottleRow).where(ThrottleRow.key == email_key(email)))
