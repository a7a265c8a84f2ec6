"""Request bodies of the ingestion API (mbuzz v1 wire format), validated one event at a time.

Validation takes a context ``{"now": datetime}`` so timestamps too far in the future
are rejected per event. Unknown fields are ignored (newer SDKs may send more).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
)
from pydantic_core import to_json

from multibuzz.domain.currencies import is_currency
from multibuzz.http.json_body import MAX_MAP_DEPTH, depth

MAX_BODY_BYTES = 1024 * 1024
MAX_EVENTS_PER_BATCH = 1000
MAX_PROPERTIES_BYTES = 32 * 1024
MAX_FUTURE = timedelta(days=1)
MIN_TIMESTAMP = datetime(2000, 1, 1, tzinfo=UTC)
UNIFIED_ACTIONS = ("purchase", "add_to_cart", "signup", "drop_off", "custom")
ALIAS_ACTIONS = ("add_to_cart", "purchase", "drop_off", "signup")
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode  # one encoder, not one per call


def parse_timestamp(value: Any) -> Any:
    """ISO-8601 text or epoch seconds (milliseconds when larger than 1e11); naive means UTC."""
    if value is None or isinstance(value, datetime):
        moment = value
    elif isinstance(value, bool):
        raise ValueError("must be an ISO-8601 date-time or epoch seconds")
    elif isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ValueError("must be a finite number of epoch seconds")
        if abs(seconds) > 1e11:
            seconds /= 1000.0
        try:
            moment = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError("epoch seconds out of range") from None
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("must be an ISO-8601 date-time (2026-01-31T12:00:00Z) or epoch seconds") from None
    else:
        raise ValueError("must be an ISO-8601 date-time or epoch seconds")
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC) if moment is not None else None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


Timestamp = Annotated[datetime | None, BeforeValidator(parse_timestamp)]
Text64 = Annotated[str, Field(min_length=1, max_length=64)]
Key128 = Annotated[str, Field(min_length=1, max_length=128)]
UserId = Annotated[str, Field(min_length=1, max_length=255)]
Url = Annotated[str, Field(max_length=8192)]
UserAgent = Annotated[str, Field(max_length=2048)]
Ip = Annotated[str, Field(max_length=64)]


def _check_time(value: datetime | None, info: ValidationInfo) -> datetime | None:
    if value is None:
        return None
    now = (info.context or {}).get("now")
    if isinstance(now, datetime) and value > now + MAX_FUTURE:
        raise ValueError("is more than 1 day in the future")
    if value < MIN_TIMESTAMP:
        raise ValueError("is before the year 2000")
    return value


def _properties_size(value: Any) -> Any:
    if isinstance(value, dict):
        if _surely_within_limits(value):
            return value
        if depth(value) > MAX_MAP_DEPTH:
            raise ValueError(f"are nested more than {MAX_MAP_DEPTH} levels deep")
        try:
            size = len(_COMPACT(value).encode())
        except (TypeError, ValueError):
            raise ValueError("must be JSON-serialisable") from None
        if size > MAX_PROPERTIES_BYTES:
            raise ValueError(f"are {size} bytes; at most {MAX_PROPERTIES_BYTES} bytes (32 KB) per event")
    return value


def _surely_within_limits(value: dict[str, Any]) -> bool:
    """A cheap proof that ``value`` passes both checks below, for the usual few flat properties.

    pydantic-core writes the same JSON text as ``json`` (compact, UTF-8, the same escapes, NaN/Infinity as
    constants) except for floats, which both write in 3 to 24 characters: so the ``json`` text is at most 8
    times longer, and a text of at most 4 KB proves the 32 KB bound. Its count of ``{`` and ``[`` bounds the
    number of containers, hence the depth. Anything pydantic-core refuses (a lone surrogate) is checked
    the slow way, as is a larger or more nested map. (The maps come from a JSON body: only JSON values.)"""
    try:
        text = to_json(value, inf_nan_mode="constants")
    except ValueError:
        return False
    return len(text) * 8 <= MAX_PROPERTIES_BYTES and text.count(b"{") + text.count(b"[") <= MAX_MAP_DEPTH


class Consent(BaseModel):
    """``consent: {"analytics": bool}``: without analytics consent nothing identifying is stored."""

    model_config = ConfigDict(extra="ignore")

    analytics: StrictBool


class Properties(BaseModel):
    """Free-form event properties; the conventional keys are typed."""

    model_config = ConfigDict(extra="allow")

    url: Url | None = None
    referrer: Url | None = None
    funnel: Annotated[str, Field(max_length=100)] | None = None
    funnel_step: Annotated[str | int, Field()] | None = None
    funnel_position: Annotated[int, Field(ge=-(2**31), le=2**31 - 1)] | None = None

    @field_validator("funnel_step")
    @classmethod
    def _step_text(cls, value: str | int | None) -> str | int | None:
        if value is not None and len(str(value)) > 100:
            raise ValueError("must be at most 100 characters")
        return value


class Base(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class EventIn(Base):
    """One event of ``POST /events``."""

    event_type: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")]
    visitor_id: Key128 | None = None
    user_id: UserId | None = None
    properties: Annotated[Properties, BeforeValidator(_properties_size)] = Field(default_factory=Properties)
    timestamp: Timestamp = None
    ip: Ip | None = None
    user_agent: UserAgent | None = None
    event_id: Key128 | None = None
    url: Url | None = None
    referrer: Url | None = None
    consent: Consent | None = None

    _time = field_validator("timestamp")(_check_time)

    def track(self, raw_properties: dict[str, Any]) -> Track:
        return _track(self, self.event_type, dict(raw_properties), self.url, self.referrer)


def _decimal(value: Any) -> Any:
    if value is None:  # only an explicit null reaches here: an absent value is simply no value
        raise ValueError("must be a number (leave it out when there is no value)")
    if isinstance(value, bool):
        raise ValueError("must be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("must be a number") from None
    if not number.is_finite():
        raise ValueError("must be a finite number")
    return number


def _currency(value: str) -> str:
    if not is_currency(value):
        raise ValueError("must be an active ISO 4217 currency code (EUR, USD, …)")
    return value.upper()


class UnifiedEventIn(Base):
    """The influencer platform's form: ``{"action": …, "value", "currency", "coupon_code", "ref_code", …}``."""

    action: Literal["purchase", "add_to_cart", "signup", "drop_off", "custom"]
    event_type: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")] | None = None
    visitor_id: Key128 | None = None
    user_id: UserId | None = None
    # Negative amounts are refused here and on /conversions alike: a refund is not a purchase.
    value: Annotated[Annotated[Decimal, Field(ge=0, le=Decimal("1e13"))] | None, BeforeValidator(_decimal)] = None
    currency: Annotated[str, AfterValidator(_currency)] | None = None
    coupon_code: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    ref_code: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    landing_url: Url | None = None
    referrer: Url | None = None
    properties: Annotated[Properties, BeforeValidator(_properties_size)] = Field(default_factory=Properties)
    timestamp: Timestamp = None
    ip: Ip | None = None
    user_agent: UserAgent | None = None
    event_id: Key128 | None = None
    consent: Consent | None = None

    _time = field_validator("timestamp")(_check_time)

    def track(self, raw_properties: dict[str, Any]) -> Track:
        """The same event in the mbuzz form: the action is the event type (``custom`` may name its own);
        value, currency, coupon_code and ref_code join the properties."""
        properties = dict(raw_properties)
        if self.value is not None:
            integral = self.value == self.value.to_integral_value()
            properties["value"] = int(self.value) if integral else float(self.value)
        if self.currency is not None:
            properties["currency"] = self.currency.upper()
        if self.coupon_code is not None:
            properties["coupon_code"] = self.coupon_code
        if self.ref_code is not None:
            properties["ref_code"] = self.ref_code
        event_type = self.event_type if self.action == "custom" and self.event_type else self.action
        track = _track(self, event_type, properties, self.landing_url, self.referrer)
        if self.action == "purchase" or (self.action == "signup" and self.value is not None):
            intent = ConversionIntent(self.action, self.value or Decimal(0), (self.currency or "USD").upper())
            track = dataclasses.replace(track, conversion=intent)
        return track


@dataclass(slots=True)  # not frozen: a frozen dataclass sets its 14 fields through object.__setattr__ (~1.6 us)
class Track:
    """A validated event, normalised from either form; never changed once built (``dataclasses.replace``)."""

    event_type: str
    visitor_id: str | None
    user_id: str | None
    properties: dict[str, Any]
    timestamp: datetime | None
    ip: str | None
    user_agent: str | None
    event_id: str | None
    url: str | None
    referrer: str | None
    funnel: str | None
    funnel_step: str | None
    funnel_position: int | None
    # Set for the unified form's purchase (and a signup with a value): the event is also a conversion.
    conversion: ConversionIntent | None = None
    analytics_consent: bool | None = None  # consent.analytics as sent (None: not sent)


@dataclass(frozen=True, slots=True)
class ConversionIntent:
    conversion_type: str
    revenue: Decimal
    currency: str


def _track(
    event: EventIn | UnifiedEventIn, event_type: str, properties: dict[str, Any], url: str | None, referrer: str | None
) -> Track:
    props = event.properties
    return Track(
        event_type=event_type,
        visitor_id=event.visitor_id,
        user_id=event.user_id,
        properties=properties,
        timestamp=event.timestamp,
        ip=event.ip,
        user_agent=event.user_agent,
        event_id=event.event_id,
        url=props.url or url,
        referrer=props.referrer or referrer,
        funnel=props.funnel,
        funnel_step=str(props.funnel_step) if props.funnel_step is not None else None,
        funnel_position=props.funnel_position,
        analytics_consent=None if event.consent is None else event.consent.analytics,
    )


class SessionIn(Base):
    visitor_id: Key128
    session_id: Key128 | None = None
    url: Url | None = None
    referrer: Url | None = None
    user_agent: UserAgent | None = None
    ip: Ip | None = None
    device_fingerprint: Annotated[str, Field(max_length=255)] | None = None
    started_at: Timestamp = None
    consent: Consent | None = None

    _time = field_validator("started_at")(_check_time)


class SessionBody(Base):
    session: SessionIn


class IdentifyIn(Base):
    user_id: UserId
    visitor_id: Key128 | None = None
    traits: Annotated[dict[str, Any], BeforeValidator(_properties_size)] = Field(default_factory=dict)
    timestamp: Timestamp = None
    consent: Consent | None = None

    _time = field_validator("timestamp")(_check_time)
