"""The pure report arithmetic: rollup cells in the account's zone, ranges, commission, rounding."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from multibuzz.errors import InvalidInputError
from multibuzz.reports.figures import Range, Rule, aov, buckets, check_hourly, commission, credit, parse_range, ratio
from multibuzz.reports.rollup import (
    SEP,
    ClickRow,
    ConversionRow,
    CreditRow,
    DayInput,
    EventRow,
    LinkRef,
    SessionRow,
    rollup_day,
)
from multibuzz.reports.store import day_bounds

PARIS = ZoneInfo("Europe/Paris")
LINK = LinkRef("lnk_1", "cmp_1", "inf_1")


def _at(hour: int, day: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, 30, tzinfo=UTC)


def test_rows_land_on_the_local_day_and_hour_of_the_account() -> None:
    data = DayInput(
        sessions=[SessionRow("ses_1", "vis_1", _at(23, 9), "affiliate", "CODE1")],  # 00:30 on the 10th in Paris
        events=[EventRow("ses_1", "page_view", _at(23, 9), "affiliate", "code1", "checkout", "cart", 1)],
        clicks=[
            ClickRow("lnk_1", "cmp_1", "inf_1", _at(8), False, True),
            ClickRow("lnk_1", "cmp_1", "inf_1", _at(8), True, False),
        ],  # a bot: never counted
        conversions=[ConversionRow("conv_1", _at(9), Decimal("10.50"), "inf_1", "cmp_1", "lnk_1")],
        credits=[
            CreditRow("conv_1", "linear", "affiliate", Decimal("0.5"), Decimal("5.25")),
            CreditRow("conv_1", "linear", "email", Decimal("0.5"), Decimal("5.25")),
        ],
        links={"code1": LINK},
    )
    cells = rollup_day(data, PARIS, hourly=True)
    day = date(2026, 3, 10)
    assert cells[("day", day, 0, "all", "", "sessions", "")] == 1
    assert cells[("hour", day, 0, "link", "lnk_1", "sessions", "")] == 1  # 23:30 UTC = 00:30 Paris (UTC+1)
    assert cells[("day", day, 0, "pair", "inf_1|cmp_1", "visitors", "")] == 1
    assert cells[("day", day, 0, "channel", "affiliate", "funnel", f"checkout{SEP}1{SEP}cart")] == 1
    assert cells[("day", day, 0, "influencer", "inf_1", "clicks", "")] == 1
    assert cells[("day", day, 0, "influencer", "inf_1", "unique_clicks", "")] == 1
    assert cells[("hour", day, 10, "campaign", "cmp_1", "revenue", "")] == Decimal("10.50")
    assert cells[("day", day, 0, "channel", "email", "attr_rev", "linear")] == Decimal("5.25")
    assert not any(cell[3] == "channel" and cell[5] == "clicks" for cell in cells), "clicks have no channel"
    assert rollup_day(data, PARIS, hourly=False).keys() == {c for c in cells if c[0] == "day"}


def test_a_session_without_a_known_link_counts_under_none() -> None:
    data = DayInput([SessionRow("ses_1", "vis_1", _at(12), "direct", "unknown")], [], [], [], [], {})
    cells = rollup_day(data, PARIS, hourly=False)
    assert cells[("day", date(2026, 3, 10), 0, "influencer", "", "sessions", "")] == 1


def test_local_days_across_daylight_saving_are_23_and_25_hours() -> None:
    spring = day_bounds(date(2026, 3, 29), PARIS)
    autumn = day_bounds(date(2026, 10, 25), PARIS)
    assert (spring[1] - spring[0]).total_seconds() == 23 * 3600
    assert (autumn[1] - autumn[0]).total_seconds() == 25 * 3600
    assert spring[0] == datetime(2026, 3, 28, 23, tzinfo=UTC)


def test_commission_by_assignment_then_campaign() -> None:
    rules = {("cmp_1", ""): Rule("rate", Decimal("0.1")), ("cmp_1", "inf_2"): Rule("fixed", Decimal("7"))}
    assert commission(rules, "inf_1", "cmp_1", Decimal(3), Decimal("123.45")) == Decimal("12.35")
    assert commission(rules, "inf_2", "cmp_1", Decimal(3), Decimal("123.45")) == Decimal("21.00")
    assert commission(rules, "inf_1", "cmp_9", Decimal(3), Decimal("123.45")) == Decimal(0)
    assert commission(rules, "", "cmp_1", Decimal(3), Decimal("123.45")) == Decimal(0)


def test_ranges_rates_and_buckets() -> None:
    today = date(2026, 6, 1)
    assert parse_range(None, None, today) == Range(date(2026, 5, 3), today)
    assert Range(date(2026, 5, 3), today).previous() == Range(date(2026, 4, 3), date(2026, 5, 2))
    with pytest.raises(InvalidInputError) as bad:
        parse_range(date(2026, 6, 2), today, today)
    assert bad.value.field == "from"
    with pytest.raises(InvalidInputError) as ancient:
        parse_range(date(1, 1, 1), today, today)
    assert ancient.value.field == "from"
    with pytest.raises(InvalidInputError) as old:
        check_hourly(Range(date(2026, 5, 1), today), today, 7)
    assert old.value.field == "granularity"
    assert (ratio(Decimal(2), Decimal(3)), ratio(Decimal(1), Decimal(0))) == ("0.6667", "0.0000")
    assert (aov(Decimal("10"), Decimal(3)), aov(Decimal(0), Decimal(0))) == ("3.33", "0.00")
    assert len(buckets(Range(today, today), "hour")) == 24 and buckets(Range(today, today), "day") == [(today, 0)]


@pytest.mark.parametrize(
    ("value", "text"),
    [("400", "400"), ("400.0000", "400"), ("2.5000", "2.5"), ("0.3333", "0.3333"), ("0", "0"), ("1E+3", "1000")],
)
def test_attributed_conversion_counts_are_plain_decimal_strings(value: str, text: str) -> None:
    assert credit(Decimal(value)) == text
