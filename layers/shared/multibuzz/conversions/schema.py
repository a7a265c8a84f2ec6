"""The wire shapes of ``POST /api/v1/conversions`` and of a conversion with its attribution.

``request.parse_conversion`` is the validator (it reports every problem at once with the wire format's
messages); ``ConversionIn`` states the same rules as a model, so the OpenAPI document carries them.
``tests/unit/test_openapi_models.py`` checks that the two agree on a table of bodies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from multibuzz.conversions.request import MAX_REVENUE

# A decimal string below MAX_REVENUE (1e13) in magnitude: at most 13 integer digits.
REVENUE_TEXT = r"^\s*[+-]?\d{1,13}(\.\d+)?\s*$"
Key128 = Annotated[str, Field(min_length=1, max_length=128)]
EpochSeconds = Annotated[float, Field(ge=946_684_800, le=4_102_444_800)]  # 2000-01-01 .. 2100-01-01
Moment = Annotated[
    datetime | EpochSeconds,
    Field(description="ISO-8601 date-time (naive means UTC) or epoch seconds; at most a day ahead"),
]


def _one_of_the_ids(schema: dict[str, Any]) -> None:
    """At least one of the three ids, as a non-empty string (the parser treats null and "" as absent)."""
    schema["anyOf"] = [
        {"required": [name], "properties": {name: {"type": "string", "minLength": 1}}}
        for name in ("visitor_id", "user_id", "event_id")
    ]


class ConversionIn(BaseModel):
    """A conversion: who (``visitor_id``, ``user_id`` or the ``event_id`` it came from), what, and how much."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_one_of_the_ids)

    conversion_type: Annotated[str, Field(min_length=1, max_length=64)] | int = Field(
        description="e.g. purchase, signup; 1 to 64 characters"
    )
    visitor_id: Key128 | None = Field(default=None, description="the client's visitor id (`_mbuzz_vid`)")
    user_id: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    event_id: Key128 | None = Field(default=None, description="the event this conversion came from")
    revenue: (
        Annotated[float, Field(gt=-float(MAX_REVENUE), lt=float(MAX_REVENUE))]
        | Annotated[str, Field(pattern=REVENUE_TEXT)]
        | None
    ) = Field(default=None, description="in `currency`; a number or a decimal string (exact); 0 when absent")
    currency: Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")] | None = Field(
        default=None, description="ISO 4217 code; USD when absent"
    )
    properties: dict[str, Any] | None = Field(default=None, description="free-form; `order_id` is an idempotency key")
    is_acquisition: bool = False
    inherit_acquisition: bool = Field(
        default=False, description="take the attribution of this identity's acquisition conversion"
    )
    timestamp: Moment | None = Field(default=None, description="when it happened; now when absent")
    occurred_at: Moment | None = Field(default=None, description="synonym of `timestamp`")
    lookback_days: Annotated[int, Field(ge=1, le=365)] | None = None


class ConversionEnvelope(BaseModel):
    """The same conversion wrapped, as some SDKs send it."""

    model_config = ConfigDict(extra="allow")

    conversion: ConversionIn


CONVERSION_BODY: tuple[type[BaseModel], ...] = (ConversionIn, ConversionEnvelope)


class ConversionOut(BaseModel):
    """A stored conversion (money as decimal strings in the currency's minor unit)."""

    model_config = ConfigDict(extra="allow")

    id: str
    conversion_type: str
    status: str = Field(description="pending until the consumer attributes it, then attributed")
    revenue: str
    currency: str
    occurred_at: str
    visitor_id: str | None
    identity_id: str | None
    event_id: str | None
    is_acquisition: bool
    inherit_acquisition: bool
    properties: dict[str, Any]
    request_id: str | None = Field(
        default=None, description="The API request that recorded it (API Gateway request id), for the logs"
    )


class CreditOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    session_id: str | None
    channel: str
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    touch_at: str | None
    credit: str = Field(description="fraction of the conversion, as a decimal string")
    revenue_credit: str


class AttributionOut(BaseModel):
    """Credits under each of the ten models, side by side."""

    model_config = ConfigDict(extra="allow")

    version: int
    lookback_days: int | None
    lookback_days_by_model: dict[str, int]
    sessions_analyzed: int | None
    models: dict[str, list[CreditOut]]
    notes: dict[str, Any]
    inherited_from: Any = None
    influencer: dict[str, Any] | None


class ConversionAcceptedOut(BaseModel):
    """202 (queued for attribution) or 201 (attributed within ``?wait``)."""

    model_config = ConfigDict(extra="allow")

    conversion: ConversionOut
    attribution: AttributionOut | None
    duplicate: bool = Field(description="true when an earlier request with the same idempotency key made it")


class ConversionDetailOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    conversion: ConversionOut
    attribution: AttributionOut | None
    versions: list[int]


class ConversionPageOut(BaseModel):
    data: list[ConversionOut]
    next_cursor: str | None


class AttributionRowOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    group: str | None = Field(description="the channel, campaign or source; `(none)` when unset")
    currency: str
    conversions: str = Field(description="credited conversions (a decimal string: credits are fractions)")
    revenue: str
    conversions_touched: int


class AttributionsOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    group_by: str
    models: dict[str, list[AttributionRowOut]]
    lookback_days: int | None = Field(
        default=None, description="the lookback the models were recomputed with; null: the stored credits"
    )
    recomputed_conversions: int = Field(
        default=0, description="conversions recomputed for `lookback_days` (the others' stored credits already used it)"
    )


class RecurringRowOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    channel: str
    currency: str
    acquisition_revenue: str
    recurring_revenue: str
    mrr: str
    arr: str


class RecurringOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    as_of: str
    channels: list[RecurringRowOut]


class FitOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    version: int
    fitted_at: str
    window_days: int
    journeys: int
    conversions: int
    channel_weights: dict[str, Any]


class FitsOut(BaseModel):
    fits: list[FitOut]
