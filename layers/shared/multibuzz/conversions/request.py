"""Parse and validate a conversion request with the wire format's readable messages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from multibuzz.clock import ensure_utc
from multibuzz.domain.currencies import is_currency
from multibuzz.http.json_body import MAX_MAP_DEPTH, depth
from multibuzz.ingest.schemas import MAX_FUTURE, MIN_TIMESTAMP, parse_timestamp

_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
MAX_REVENUE = Decimal("1e13")


@dataclass
class ConversionRequest:
    conversion_type: str
    event_id: str | None
    visitor_id: str | None
    user_id: str | None
    revenue: Decimal
    currency: str
    properties: dict[str, Any]
    is_acquisition: bool
    inherit_acquisition: bool
    occurred_at: datetime | None
    lookback_days: int | None
    idempotency_key: str | None = None


@dataclass
class Problems:
    items: list[dict[str, str]] = field(default_factory=list)

    def add(self, field_name: str, message: str) -> None:
        self.items.append({"field": field_name, "message": message})


def _text(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int):
        raise ValueError("must be a string")
    text = str(value).strip()
    if len(text) > limit:
        raise ValueError(f"must be at most {limit} characters")
    return text or None


def _timestamp(value: Any, now: datetime) -> datetime:
    """The events' rules (multibuzz.ingest.schemas): ISO-8601 or epoch seconds, from 2000 to a day ahead."""
    moment = parse_timestamp(value)
    if moment is None:
        raise ValueError("must be an ISO-8601 date-time or epoch seconds")
    if moment > now + MAX_FUTURE:
        raise ValueError("is more than 1 day in the future")
    if moment < MIN_TIMESTAMP:
        raise ValueError("is before the year 2000")
    return ensure_utc(moment)


def parse_conversion(body: Any, *, now: datetime, idempotency_header: str | None) -> ConversionRequest | Problems:
    """Accepts the flat form and ``{"conversion": {...}}``. Returns the request or every problem found."""
    problems = Problems()
    if not isinstance(body, dict):
        problems.add("body", "must be a JSON object")
        return problems
    wrapped = body.get("conversion")
    data: dict[str, Any] = wrapped if isinstance(wrapped, dict) else body

    values: dict[str, Any] = {}
    for name, limit in (("conversion_type", 64), ("event_id", 128), ("visitor_id", 128), ("user_id", 255)):
        try:
            values[name] = _text(data.get(name), limit)
        except ValueError as exc:
            problems.add(name, f"{name} {exc}")
            values[name] = None
    if not values["conversion_type"] and not any(p["field"] == "conversion_type" for p in problems.items):
        problems.add("conversion_type", "conversion_type is required")
    if not (values["event_id"] or values["visitor_id"] or values["user_id"]):
        problems.add("visitor_id", "event_id or visitor_id is required")

    revenue = Decimal(0)
    raw_revenue = data.get("revenue")
    if raw_revenue is not None:
        try:
            if isinstance(raw_revenue, bool):
                raise InvalidOperation
            revenue = Decimal(str(raw_revenue))
            if not revenue.is_finite() or abs(revenue) >= MAX_REVENUE:
                raise InvalidOperation
            if revenue < 0:  # the same rule as the unified form's value: a refund is not a conversion
                problems.add("revenue", "revenue must not be negative")
        except (InvalidOperation, ValueError):
            problems.add("revenue", "Revenue must be numeric")

    currency = data.get("currency") or "USD"
    if not isinstance(currency, str) or not _CURRENCY.match(currency) or not is_currency(currency):
        problems.add("currency", "currency must be an active ISO 4217 code (EUR, USD, …)")
        currency = "USD"

    properties = data.get("properties") or {}
    if not isinstance(properties, dict):
        problems.add("properties", "properties must be an object")
        properties = {}
    elif depth(properties) > MAX_MAP_DEPTH:
        problems.add("properties", f"properties are nested more than {MAX_MAP_DEPTH} levels deep")

    flags = {}
    for name in ("is_acquisition", "inherit_acquisition"):
        value = data.get(name, False)
        if not isinstance(value, bool):
            problems.add(name, f"{name} must be true or false")
            value = False
        flags[name] = value

    occurred_at = None
    raw_time = data.get("timestamp", data.get("occurred_at"))
    if raw_time is not None:
        try:
            occurred_at = _timestamp(raw_time, now)
        except (ValueError, OverflowError, OSError) as exc:
            problems.add("timestamp", f"timestamp {exc}")

    lookback = data.get("lookback_days")
    if lookback is not None and (
        isinstance(lookback, bool) or not isinstance(lookback, int) or not 1 <= lookback <= 365
    ):
        problems.add("lookback_days", "lookback_days must be a whole number from 1 to 365")
        lookback = None

    if problems.items:
        return problems
    order_id = properties.get("order_id")
    key = idempotency_header or (f"order:{order_id}" if order_id not in (None, "") else None)
    return ConversionRequest(
        conversion_type=str(values["conversion_type"]),
        event_id=values["event_id"],
        visitor_id=values["visitor_id"],
        user_id=values["user_id"],
        revenue=revenue,
        currency=currency.upper(),
        properties=properties,
        is_acquisition=flags["is_acquisition"],
        inherit_acquisition=flags["inherit_acquisition"],
        occurred_at=occurred_at,
        lookback_days=lookback,
        idempotency_key=key[:160] if key else None,
    )
