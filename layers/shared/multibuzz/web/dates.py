"""The date picker: a named range (or a custom one) in the account's time zone → [start, end) in UTC.

Kept in the URL as ``?range=today|yesterday|7d|30d|custom`` (+ ``from``/``to`` as YYYY-MM-DD for custom,
both days inclusive). Pure: the caller passes "now".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from multibuzz.domain.timezones import zone
from multibuzz.errors import InvalidInputError

RANGES = {"today": "Today", "yesterday": "Yesterday", "7d": "Last 7 days", "30d": "Last 30 days", "custom": "Custom"}
DEFAULT_RANGE = "30d"
MAX_CUSTOM_DAYS = 366


@dataclass(frozen=True)
class DateRange:
    key: str
    first_day: date
    last_day: date  # inclusive
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    timezone: str

    @property
    def label(self) -> str:
        return RANGES[self.key]

    def query(self) -> dict[str, str]:
        if self.key == "custom":
            return {"range": "custom", "from": self.first_day.isoformat(), "to": self.last_day.isoformat()}
        return {"range": self.key}


def _day(value: str | None, field: str) -> date:
    try:
        return date.fromisoformat(value or "")
    except ValueError as exc:
        raise InvalidInputError(f"{field} must be a date (YYYY-MM-DD)", field=field) from exc


def resolve(
    key: str | None, start_text: str | None, end_text: str | None, *, now: datetime, timezone: str
) -> DateRange:
    key = key or DEFAULT_RANGE
    if key not in RANGES:
        raise InvalidInputError(f"range must be one of {', '.join(RANGES)}", field="range")
    tz = zone(timezone)
    today = now.astimezone(tz).date()
    if key == "today":
        first, last = today, today
    elif key == "yesterday":
        first = last = today - timedelta(days=1)
    elif key == "7d":
        first, last = today - timedelta(days=6), today
    elif key == "30d":
        first, last = today - timedelta(days=29), today
    else:
        first, last = _day(start_text, "from"), _day(end_text, "to")
        if last < first:
            raise InvalidInputError("to must not be before from", field="to")
        if (last - first).days >= MAX_CUSTOM_DAYS:
            raise InvalidInputError(f"a custom range spans at most {MAX_CUSTOM_DAYS} days", field="to")

    def instant(day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)

    return DateRange(key, first, last, instant(first), instant(last + timedelta(days=1)), timezone)
