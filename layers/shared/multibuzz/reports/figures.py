"""Pure report arithmetic over summed rollup cells: ranges, rates, commission, series. No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from multibuzz.errors import InvalidInputError

MAX_DAYS = 731
EARLIEST = date(1971, 1, 1)  # far enough from date.min that a previous period always exists
LATEST = date(9000, 12, 31)
CENT = Decimal("0.01")
RATE = Decimal("0.0001")
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Range:
    first: date
    last: date  # inclusive

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Range:
        return Range(self.first - timedelta(days=self.days), self.first - timedelta(days=1))


def parse_range(first: date | None, last: date | None, today: date, default_days: int = 30) -> Range:
    """``from``/``to`` are local dates, inclusive; by default the last ``default_days`` days to today."""
    for value, name in ((first, "from"), (last, "to")):
        if value is not None and not EARLIEST <= value <= LATEST:
            raise InvalidInputError(f"{name} must be between {EARLIEST} and {LATEST}", field=name)
    last = last or today
    first = first or (last - timedelta(days=default_days - 1))
    if first > last:
        raise InvalidInputError("from must not be after to", field="from")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInputError(f"the range may span at most {MAX_DAYS} days", field="from")
    return Range(first, last)


def check_hourly(rng: Range, today: date, kept_days: int) -> None:
    if rng.first < today - timedelta(days=kept_days):
        raise InvalidInputError(
            f"granularity=hour covers the last {kept_days} days only; from must be on or after "
            f"{(today - timedelta(days=kept_days)).isoformat()}",
            field="granularity",
        )


def money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def count(value: Decimal) -> int:
    return int(value)


def credit(value: Decimal) -> str:
    """A fractional count (attributed conversions) as a plain decimal string: ``"400"``, ``"2.5"``,
    never ``"4E+2"`` (``Decimal.normalize`` alone gives exponents for whole tens)."""
    return format(value.normalize(), "f")


def ratio(numerator: Decimal, denominator: Decimal) -> str:
    if denominator == 0:
        return "0.0000"
    return str((numerator / denominator).quantize(RATE, rounding=ROUND_HALF_UP))


def aov(revenue: Decimal, conversions: Decimal) -> str:
    if conversions == 0:
        return money(ZERO)
    return money(revenue / conversions)


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str  # rate | fixed
    value: Decimal


def commission(
    rules: Mapping[tuple[str, str], Rule], influencer_id: str, campaign_id: str, conversions: Decimal, revenue: Decimal
) -> Decimal:
    """Commission due on one (influencer, campaign) pair: the assignment's rule, else the campaign's."""
    rule = rules.get((campaign_id, influencer_id)) or rules.get((campaign_id, ""))
    if rule is None or not influencer_id:
        return ZERO
    if rule.kind == "rate":
        return (revenue * rule.value).quantize(CENT, rounding=ROUND_HALF_UP)
    return (conversions * rule.value).quantize(CENT, rounding=ROUND_HALF_UP)


def split_pair(value: str) -> tuple[str, str]:
    influencer, _, campaign = value.partition("|")
    return influencer, campaign


def buckets(rng: Range, granularity: str) -> list[tuple[date, int]]:
    out = []
    day = rng.first
    while day <= rng.last:
        if granularity == "hour":
            out += [(day, hour) for hour in range(24)]
        else:
            out.append((day, 0))
        day += timedelta(days=1)
    return out


def bucket_label(day: date, hour: int, granularity: str) -> str:
    if granularity == "hour":
        return datetime(day.year, day.month, day.day, hour).isoformat(timespec="minutes")
    return day.isoformat()
