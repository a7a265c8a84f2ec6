"""Session rules (ARCHITECTURE.md section 3), pure: does a hit continue a visit or start a new one?

A hit continues the visitor's session when it falls within the inactivity timeout
of the session's activity span ``[started_at, last_activity_at]``. A new session
starts after the timeout, or when the hit carries a marketing touch (UTMs, an ad
click id, a ref_code) that differs from the touch of the session's first hit. A hit
whose referrer is the account's own site never starts a session by its touch
(links inside a site that carry UTMs do not split a visit); the timeout still
applies to it.

Hits may arrive out of order: the session a hit is judged against is the latest one
that started at or before it (see :func:`candidate_for`), and a hit that lands
inside a session's span is always "within the timeout".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, TypeVar

DEFAULT_TIMEOUT_MINUTES = 30
MIN_TIMEOUT_MINUTES = 1
MAX_TIMEOUT_MINUTES = 24 * 60


class Reason(StrEnum):
    CONTINUE = "continue"
    FIRST_HIT = "first_hit"
    TIMEOUT = "timeout"
    NEW_CAMPAIGN = "new_campaign"


class Span(Protocol):
    """What the rules need to know about an existing session (a row, or a :class:`SessionSpan`)."""

    @property
    def started_at(self) -> datetime: ...

    @property
    def last_activity_at(self) -> datetime: ...

    @property
    def campaign_key(self) -> str | None: ...


S = TypeVar("S", bound=Span)


@dataclass(frozen=True, slots=True)
class SessionSpan:
    started_at: datetime
    last_activity_at: datetime
    campaign_key: str | None


@dataclass(frozen=True, slots=True)
class Hit:
    at: datetime
    campaign_key: str | None  # digest of MarketingTouch.campaign_key(); None when the hit carries no touch
    internal_referrer: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    reason: Reason

    @property
    def starts_session(self) -> bool:
        return self.reason is not Reason.CONTINUE


def timeout_from_settings(settings: dict[str, object] | None) -> timedelta:
    """The account's inactivity timeout (``session_timeout_minutes``), clamped to 1 min … 24 h."""
    raw = (settings or {}).get("session_timeout_minutes")
    minutes = DEFAULT_TIMEOUT_MINUTES
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        minutes = int(raw)
    elif isinstance(raw, str) and raw.strip().isdigit():
        minutes = int(raw.strip())
    return timedelta(minutes=min(max(minutes, MIN_TIMEOUT_MINUTES), MAX_TIMEOUT_MINUTES))


def campaign_digest(key: tuple[str | None, ...] | None) -> str | None:
    """A short, stable digest of a touch's campaign key (stored on the session)."""
    if key is None:
        return None
    return hashlib.sha256(json.dumps(list(key), separators=(",", ":")).encode()).hexdigest()[:32]


def gap(span: Span, at: datetime) -> timedelta:
    """Distance from ``at`` to the session's activity span (zero inside it)."""
    if at > span.last_activity_at:
        return at - span.last_activity_at
    if at < span.started_at:
        return span.started_at - at
    return timedelta(0)


def decide(current: Span | None, hit: Hit, timeout: timedelta) -> Decision:
    """Continue ``current`` or start a new session for ``hit``."""
    if current is None:
        return Decision(Reason.FIRST_HIT)
    if gap(current, hit.at) > timeout:
        return Decision(Reason.TIMEOUT)
    if not hit.internal_referrer and hit.campaign_key is not None and hit.campaign_key != current.campaign_key:
        return Decision(Reason.NEW_CAMPAIGN)
    return Decision(Reason.CONTINUE)


def candidate_for(sessions: Sequence[S], at: datetime) -> S | None:
    """The session a hit at ``at`` is judged against, from sessions sorted by ``started_at``.

    The latest session that started at or before the hit; for a hit older than every
    session, the earliest session (an out-of-order hit just before a visit's first one).
    """
    if not sessions:
        return None
    chosen: S | None = None
    for span in sessions:
        if span.started_at <= at:
            chosen = span
        else:
            break
    return chosen if chosen is not None else sessions[0]
