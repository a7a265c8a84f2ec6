"""The session rules: continue or start, on the timeout, the campaign touch and internal referrers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from multibuzz.domain.sessions import (
    Hit,
    Reason,
    SessionSpan,
    campaign_digest,
    candidate_for,
    decide,
    gap,
    timeout_from_settings,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
THIRTY = timedelta(minutes=30)
SPRING = campaign_digest(("google", "cpc", "spring", None, None))
SUMMER = campaign_digest(("google", "cpc", "summer", None, None))


def span(start_min: float, last_min: float, key: str | None = SPRING) -> SessionSpan:
    return SessionSpan(T0 + timedelta(minutes=start_min), T0 + timedelta(minutes=last_min), key)


def hit(minutes: float, key: str | None = None, internal: bool = False) -> Hit:
    return Hit(T0 + timedelta(minutes=minutes), key, internal)


@pytest.mark.parametrize(
    ("current", "incoming", "reason"),
    [
        (None, hit(0), Reason.FIRST_HIT),
        (span(0, 10), hit(40), Reason.CONTINUE),  # exactly 30 minutes of inactivity: still the same visit
        (span(0, 10), hit(40.01), Reason.TIMEOUT),
        (span(0, 10), hit(15, SPRING), Reason.CONTINUE),  # the same campaign again (a reload)
        (span(0, 10), hit(15, SUMMER), Reason.NEW_CAMPAIGN),
        (span(0, 10, None), hit(15, SUMMER), Reason.NEW_CAMPAIGN),  # a direct visit, then an ad click
        (span(0, 10), hit(15, SUMMER, internal=True), Reason.CONTINUE),  # internal links never split
        (span(0, 10), hit(50, None, internal=True), Reason.TIMEOUT),  # ...but the timeout still applies
        (span(0, 10), hit(15, None), Reason.CONTINUE),  # no touch: plain navigation
        (span(0, 10), hit(5), Reason.CONTINUE),  # out of order, inside the span
        (span(20, 30), hit(0), Reason.CONTINUE),  # out of order, 20 minutes before the first hit
        (span(40, 50), hit(0), Reason.TIMEOUT),  # out of order, long before
    ],
)
def test_decide(current: SessionSpan | None, incoming: Hit, reason: Reason) -> None:
    decision = decide(current, incoming, THIRTY)
    assert decision.reason is reason
    assert decision.starts_session is (reason is not Reason.CONTINUE)


def test_gap_is_zero_inside_the_span_and_measured_from_its_nearest_edge() -> None:
    s = span(10, 20)
    assert gap(s, T0 + timedelta(minutes=15)) == timedelta(0)
    assert gap(s, T0 + timedelta(minutes=25)) == timedelta(minutes=5)
    assert gap(s, T0 + timedelta(minutes=4)) == timedelta(minutes=6)


def test_candidate_is_the_latest_session_started_at_or_before_the_hit() -> None:
    sessions = [span(0, 10), span(60, 70), span(120, 125)]
    assert candidate_for([], T0) is None
    assert candidate_for(sessions, T0 + timedelta(minutes=65)) is sessions[1]
    assert candidate_for(sessions, T0 + timedelta(minutes=60)) is sessions[1]
    assert candidate_for(sessions, T0 + timedelta(minutes=500)) is sessions[2]
    assert candidate_for(sessions, T0 - timedelta(minutes=5)) is sessions[0]


@pytest.mark.parametrize(
    ("settings", "minutes"),
    [
        (None, 30),
        ({}, 30),
        ({"session_timeout_minutes": 45}, 45),
        ({"session_timeout_minutes": "15"}, 15),
        ({"session_timeout_minutes": 0}, 1),
        ({"session_timeout_minutes": 100_000}, 24 * 60),
        ({"session_timeout_minutes": True}, 30),
        ({"session_timeout_minutes": "soon"}, 30),
    ],
)
def test_timeout_from_settings(settings: dict[str, object] | None, minutes: int) -> None:
    assert timeout_from_settings(settings) == timedelta(minutes=minutes)


def test_campaign_digest_is_short_stable_and_none_for_no_touch() -> None:
    assert campaign_digest(None) is None
    assert campaign_digest(("a", "b", None, None, None)) == campaign_digest(("a", "b", None, None, None))
    assert campaign_digest(("a", "b", None, None, None)) != campaign_digest(("a", None, "b", None, None))
    assert SPRING is not None and len(SPRING) == 32
