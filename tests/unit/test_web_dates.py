"""The date picker's ranges: days in the account's time zone, [start, end) in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from multibuzz.errors import InvalidInputError
from multibuzz.web.dates import resolve

NOW = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 in London, the night clocks go forward


def test_today_is_the_accounts_day_not_utcs() -> None:
    tokyo = resolve("today", None, None, now=NOW, timezone="Asia/Tokyo")
    assert tokyo.first_day == date(2026, 3, 29)
    assert (tokyo.start, tokyo.end) == (datetime(2026, 3, 28, 15, tzinfo=UTC), datetime(2026, 3, 29, 15, tzinfo=UTC))
    la = resolve("today", None, None, now=NOW, timezone="America/Los_Angeles")
    assert la.first_day == date(2026, 3, 28)


def test_a_day_with_a_clock_change_is_23_hours_long() -> None:
    london = resolve("today", None, None, now=NOW, timezone="Europe/London")
    assert (london.end - london.start).total_seconds() == 23 * 3600


def test_named_ranges_include_today() -> None:
    week = resolve("7d", None, None, now=NOW, timezone="UTC")
    month = resolve("30d", None, None, now=NOW, timezone="UTC")
    yesterday = resolve("yesterday", None, None, now=NOW, timezone="UTC")
    assert (week.first_day, week.last_day) == (date(2026, 3, 23), date(2026, 3, 29))
    assert (month.last_day - month.first_day).days == 29
    assert yesterday.first_day == yesterday.last_day == date(2026, 3, 28)
    assert resolve(None, None, None, now=NOW, timezone="UTC").key == "30d", "the default range"


def test_custom_ranges_are_inclusive_and_kept_in_the_query() -> None:
    custom = resolve("custom", "2026-01-01", "2026-01-31", now=NOW, timezone="UTC")
    assert (custom.start, custom.end) == (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
    assert custom.query() == {"range": "custom", "from": "2026-01-01", "to": "2026-01-31"}


@pytest.mark.parametrize(
    ("key", "start", "end", "field"),
    [
        ("fortnight", None, None, "range"),
        ("custom", "2026-02-10", "2026-01-01", "to"),
        ("custom", "yesterday", "2026-01-01", "from"),
        ("custom", "2024-01-01", "2026-01-01", "to"),
    ],
)
def test_bad_ranges_name_the_field(key: str, start: str | None, end: str | None, field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        resolve(key, start, end, now=NOW, timezone="UTC")
    assert caught.value.field == field
