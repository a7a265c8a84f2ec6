"""Meta insights rows → typed fact values (pure: no I/O).

Meta returns numbers as strings, conversions as ``actions`` / ``action_values`` lists. A purchase is read
from ``offsite_conversion.fb_pixel_purchase`` (the pixel), else ``purchase`` (Meta's de-duplicated total
across sources), else ``omni_purchase`` — never summed, since Meta reports the same purchases under
several of these names.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

PURCHASE_ACTIONS = ("offsite_conversion.fb_pixel_purchase", "purchase", "omni_purchase")
INSIGHT_FIELDS = (
    "account_id,account_currency,campaign_id,campaign_name,adset_id,adset_name,ad_id,ad_name,"
    "spend,impressions,clicks,actions,action_values,date_start,date_stop"
)
ACTIVE_OR_PAUSED = [{"field": "ad.effective_status", "operator": "IN", "value": ["ACTIVE", "PAUSED"]}]


class InsightRowError(ValueError):
    """A row Meta sent that cannot be read (no ad id, no date): skipped and counted, never stored half."""


def _decimal(value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal(0)
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise InsightRowError(f"not a number: {value!r}") from exc


def _int(value: Any) -> int:
    return int(_decimal(value))


def purchase_amount(entries: Any) -> Decimal:
    """The purchase figure of an ``actions`` or ``action_values`` list (see the module docstring)."""
    if not isinstance(entries, list):
        return Decimal(0)
    by_type = {str(e.get("action_type")): e.get("value") for e in entries if isinstance(e, dict)}
    for name in PURCHASE_ACTIONS:
        if name in by_type:
            return _decimal(by_type[name])
    return Decimal(0)


def fact_values(row: dict[str, Any]) -> dict[str, Any]:
    """The typed values of one ``level=ad``, ``time_increment=1`` row."""
    ad_id = str(row.get("ad_id") or "")
    if not ad_id:
        raise InsightRowError("row without ad_id")
    try:
        day = dt.date.fromisoformat(str(row.get("date_start")))
    except ValueError as exc:
        raise InsightRowError(f"row without a valid date_start: {row.get('date_start')!r}") from exc
    return {
        "ad_id": ad_id,
        "date": day,
        "ad_name": (row.get("ad_name") or None),
        "adset_id": (str(row["adset_id"]) if row.get("adset_id") else None),
        "adset_name": (row.get("adset_name") or None),
        "campaign_id": (str(row["campaign_id"]) if row.get("campaign_id") else None),
        "campaign_name": (row.get("campaign_name") or None),
        "spend": _decimal(row.get("spend")),
        "impressions": _int(row.get("impressions")),
        "clicks": _int(row.get("clicks")),
        "purchases": purchase_amount(row.get("actions")),
        "purchase_value": purchase_amount(row.get("action_values")),
    }
