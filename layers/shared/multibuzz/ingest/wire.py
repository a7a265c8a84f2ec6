"""The ingestion API's wire shapes for the OpenAPI document.

The request bodies are the validating models of ``ingest.schemas`` (the routes read the raw body first,
for the signature, so FastAPI cannot infer them); the only additions here are the envelopes that
``track_events`` unpacks by hand, and the JSON answers the routes build.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from multibuzz.http.openapi import body_rule
from multibuzz.ingest.schemas import MAX_EVENTS_PER_BATCH, EventIn, IdentifyIn, SessionBody, UnifiedEventIn


class EventBatchIn(BaseModel):
    """The mbuzz batch form of ``POST /events``; each event is validated on its own."""

    model_config = ConfigDict(extra="ignore")

    events: Annotated[list[EventIn], Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)]


# Ingestor.validate_events: an event names its visitor or its user (a non-null id).
_WHO = {
    "anyOf": [
        {"required": [name], "properties": {name: {"type": "string", "minLength": 1}}}
        for name in ("visitor_id", "user_id")
    ]
}
body_rule(EventIn, _WHO)
body_rule(UnifiedEventIn, _WHO)

#: ``POST /events`` accepts three forms, told apart by which key is present: ``events``, ``action``, ``event_type``.
EVENTS_BODY: tuple[type[BaseModel], ...] = (EventBatchIn, UnifiedEventIn, EventIn)
SESSION_BODY = SessionBody
IDENTIFY_BODY = IdentifyIn
UNIFIED_BODY = UnifiedEventIn


class AcceptedEvent(BaseModel):
    index: int
    id: str


class RejectedEvent(BaseModel):
    index: int
    field: str
    message: str


class PendingConversion(BaseModel):
    id: str
    status: Literal["pending"]


class EventsAcceptedOut(BaseModel):
    """202: at least one event was queued. The unified form adds ``success``/``event_id`` (and, for a
    purchase, the ``conv_…`` id of the conversion the consumer will attribute)."""

    model_config = ConfigDict(extra="allow")

    accepted: int
    rejected: int
    events: list[AcceptedEvent]
    errors: list[RejectedEvent]
    success: bool | None = None
    event_id: str | None = None
    anonymous: list[int] | None = Field(
        default=None,
        description="indexes of events stored without IP, user agent, user id or visitor id (no analytics "
        "consent); absent when none",
    )
    conversion_id: str | None = None
    conversion: PendingConversion | None = None


class EventsRejectedOut(BaseModel):
    """422 of the batch form when no event was accepted: the batch answer plus ``error``/``message``."""

    model_config = ConfigDict(extra="allow")

    error: str
    message: str
    accepted: int
    rejected: int
    events: list[AcceptedEvent]
    errors: list[RejectedEvent]


class SessionAcceptedOut(BaseModel):
    status: Literal["accepted"]
    visitor_id: str
    session_id: str | None
    anonymous: bool | None = Field(
        default=None, description="true: stored without IP, user agent or visitor id (no analytics consent)"
    )


class IdentifyOut(BaseModel):
    success: bool
    identity_id: str
    visitor_linked: bool


class ValidateOut(BaseModel):
    valid: bool
    account_id: str
    environment: str
