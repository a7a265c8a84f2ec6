"""Failed-login throttling per e-mail and per client IP, with its state in the database.

Every API instance (every Lambda execution environment) reads and writes the same
``login_throttles`` rows, so the limit holds across instances. The rows are keyed by a
digest of the normalised e-mail — whether or not a user has that address, so the
answers never reveal which addresses exist — and by the client's IP.

Each attempt is counted before its password is checked (so parallel guesses on many
instances cannot overshoot); a key may make ``max`` failed attempts per window, and the
next one locks it: every attempt then answers 429 until the lock ends (``Retry-After``
says when), the right password included. A successful login clears its e-mail's counter
and gives the IP back only its own attempt: it never clears the IP's counter, so one
attacker's own account does not buy them more guesses at others.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
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

    def attempt(self, email: str, ip: str | None) -> None:
        """Count this login attempt against the e-mail and the IP *before* the password is checked.

        Counting first (in one committed transaction, rows locked) keeps the limit exact even when
        many instances verify guesses in parallel. Raises 429 (with Retry-After) while a key is
        locked, or when this attempt goes over a limit. ``succeeded`` gives a right password's
        count back.
        """
        now = self.clock.now()
        keys = sorted(self._limits(email, ip))
        wait = 0.0
        for _attempt in range(5):
            try:
                wait = self._count(keys, now)
                break
            except (IntegrityError, OperationalError):  # a concurrent first insert, or a deadlock: again
                continue
        if wait > 0:
            raise RateLimitedError("too many failed logins; try again later", retry_after=max(1, math.ceil(wait)))

    def _count(self, keys: list[tuple[str, int]], now: datetime) -> float:
        with self.sessions() as session, session.begin():
            names = [k for k, _ in keys]
            # Take the write lock first: SQLite ignores FOR UPDATE, and a write statement serialises
            # this read-count-write against other instances there (MySQL/MariaDB lock the rows anyway).
            session.execute(update(ThrottleRow).where(ThrottleRow.key.in_(names)).values(failures=ThrottleRow.failures))
            rows = {
                row.key: row
                for row in session.scalars(
                    select(ThrottleRow).where(ThrottleRow.key.in_(names)).order_by(ThrottleRow.key).with_for_update()
                )
            }
            locked = max((self._wait(row, now) for row in rows.values()), default=0.0)
            if locked > 0:
                return locked  # refused without counting: a locked key stays locked until its window ends
            wait = 0.0
            for key, limit in keys:
                row = rows.get(key)
                if row is None:
                    row = ThrottleRow(key=key, failures=0, window_started_at=now, locked_until=None)
                    session.add(row)
                elif row.window_started_at + self.window <= now:
                    row.failures, row.window_started_at, row.locked_until = 0, now, None
                row.failures += 1
                if row.failures > limit:
                    row.locked_until = now + self.window
                    wait = max(wait, self.window.total_seconds())
            session.flush()
        return wait

    @staticmethod
    def _wait(row: ThrottleRow, now: datetime) -> float:
        if row.locked_until is None or row.locked_until <= now:
            return 0.0
        return (row.locked_until - now).total_seconds()

    def succeeded(self, email: str, ip: str | None) -> None:
        """A right password: the e-mail's counter is cleared; the IP gets this attempt back, nothing more."""
        with self.sessions() as session, session.begin():
            session.execute(delete(ThrottleRow).where(ThrottleRow.key == email_key(email)))
            by_ip = ip_key(ip)
            if by_ip is not None:
                session.execute(
                    update(ThrottleRow)
                    .where(ThrottleRow.key == by_ip, ThrottleRow.failures > 0)
                    .values(failures=ThrottleRow.failures - 1)
                )
