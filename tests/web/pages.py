"""Reading numbers back out of the pages (the same attributes the browser tests read)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

ROW = re.compile(r'<tr data-group="([^"]*)" data-currency="([A-Z]{3})">(.*?)</tr>', re.S)
CELL = re.compile(r'<td data-model="([a-z_]+)" data-revenue="([^"]*)"')
WINDOW = re.compile(r'data-start="([^"]+)" data-end="([^"]+)"')


def attribution_table(html: str) -> dict[tuple[str, str, str], Decimal]:
    """(model, group, currency) → revenue shown, for every non-zero cell."""
    found: dict[tuple[str, str, str], Decimal] = {}
    for group, currency, cells in ROW.findall(html):
        for model, revenue in CELL.findall(cells):
            if Decimal(revenue) != 0:
                found[(model, group, currency)] = Decimal(revenue)
    return found


def api_table(report: dict[str, Any]) -> dict[tuple[str, str, str], Decimal]:
    return {
        (model, str(row["group"]), row["currency"]): Decimal(row["revenue"])
        for model, rows in report["models"].items()
        for row in rows
        if Decimal(row["revenue"]) != 0
    }


def window(html: str) -> tuple[str, str]:
    found = WINDOW.search(html)
    assert found, "the page shows its date window"
    return found.group(1), found.group(2)


CARD = re.compile(r'<p class="figure" data-testid="([a-z_-]+)" data-value="([^"]*)"')


def cards(html: str) -> dict[str, str]:
    """KPI card name → the value shown (as the API sent it; "" for a null)."""
    return dict(CARD.findall(html))


LATEST_ROW = re.compile(r'<tr data-period="([a-z0-9_]+)">(.*?)</tr>', re.S)
LATEST_CELL = re.compile(r'<td data-latest="([a-z_]+)" data-value="([^"]*)"')


def latest_table(html: str) -> dict[tuple[str, str], str]:
    """(period, figure) → the value shown in Home's precomputed "latest" table ("" for a null)."""
    return {
        (period, name): value
        for period, cells in LATEST_ROW.findall(html)
        for name, value in LATEST_CELL.findall(cells)
    }
