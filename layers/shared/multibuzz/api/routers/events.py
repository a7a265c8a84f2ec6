"""The admin's event log: ``GET /api/v1/events`` with filters and keyset (cursor) pagination."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from multibuzz.errors import InvalidInputError, PermissionDeniedError
from multibuzz.http.deps import AccountActor, SessionDep
from multibuzz.http.params import Cursor
from multibuzz.ingest.schemas import parse_timestamp
from multibuzz.services.tracking import MAX_PAGE, EventFilter, EventView, TrackingReader

router = APIRouter(prefix="/api/v1", tags=["tracking"])


def tracking_reader(actor: AccountActor, session: SessionDep) -> TrackingReader:
    """Owners, members and platform admins read the account's tracking data; influencers do not."""
    if actor.role == "influencer" and not actor.is_platform_admin:
        raise PermissionDeniedError("influencer logins cannot read tracking data")
    assert actor.account_id is not None
    return TrackingReader(session, actor.account_id)


ReaderDep = Annotated[TrackingReader, Depends(tracking_reader)]


class EventOut(BaseModel):
    id: str
    event_type: str
    occurred_at: datetime
    received_at: datetime
    visitor_id: str | None  # the client's visitor id (the _mbuzz_vid cookie value)
    session_id: str | None
    identity_id: str | None
    url: str | None
    funnel: str | None
    funnel_step: str | None
    funnel_position: int | None
    properties: dict[str, Any]
    request_id: str | None = Field(
        default=None, description="The API request that sent it (API Gateway request id): its whole path in the logs"
    )

    @classmethod
    def of(cls, view: EventView) -> EventOut:
        event = view.event
        return cls(
            id=event.id,
            event_type=event.event_type,
            occurred_at=event.occurred_at,
            received_at=event.received_at,
            visitor_id=view.visitor_key,
            session_id=event.session_id,
            identity_id=event.identity_id,
            url=event.url,
            funnel=event.funnel,
            funnel_step=event.funnel_step,
            funnel_position=event.funnel_position,
            properties=event.properties or {},
            request_id=event.request_id,
        )


class EventPage(BaseModel):
    data: list[EventOut]
    next_cursor: str | None


def encode_cursor(view: EventView) -> str:
    raw = json.dumps([view.event.occurred_at.isoformat(), view.event.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, last_id = json.loads(raw)
        moment = parse_timestamp(at)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidInputError("cursor is not valid", field="cursor") from None
    if not isinstance(moment, datetime) or not isinstance(last_id, str):
        raise InvalidInputError("cursor is not valid", field="cursor")
    return moment, last_id


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = parse_timestamp(value)
    except ValueError as exc:
        raise InvalidInputError(f"{name} {exc}", field=name) from None
    assert isinstance(moment, datetime)
    return moment


@router.get("/events", response_model=EventPage, summary="The account's events, newest first")
def list_events(
    reader: ReaderDep,
    type: Annotated[str | None, Query(max_length=64, description="event type, e.g. page_view")] = None,
    funnel: Annotated[str | None, Query(max_length=100)] = None,
    from_: Annotated[str | None, Query(alias="from", description="ISO-8601 or epoch seconds, inclusive")] = None,
    to: Annotated[str | None, Query(description="ISO-8601 or epoch seconds, exclusive")] = None,
    visitor: Annotated[str | None, Query(max_length=128, description="the client's visitor id")] = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> EventPage:
    filters = EventFilter(
        event_type=type,
        funnel=funnel,
        start=_time(from_, "from"),
        end=_time(to, "to"),
        visitor_key=visitor,
        before=decode_cursor(cursor) if cursor else None,
    )
    rows = reader.events(filters, limit + 1)
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1]) if len(rows) > limit and page else None
    return EventPage(data=[EventOut.of(v) for v in page], next_cursor=next_cursor)
