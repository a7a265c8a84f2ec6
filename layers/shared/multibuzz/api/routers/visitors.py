"""One visitor's journey: ``GET /api/v1/visitors/{visitor_id}`` → its sessions and latest events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from multibuzz.api.routers.events import EventOut, ReaderDep
from multibuzz.db.models import VisitSession
from multibuzz.errors import NotFoundError
from multibuzz.services.tracking import VISITOR_EVENTS

router = APIRouter(prefix="/api/v1", tags=["tracking"])


class Utm(BaseModel):
    source: str | None
    medium: str | None
    campaign: str | None
    content: str | None
    term: str | None


class Device(BaseModel):
    type: str | None
    browser: str | None
    os: str | None
    is_bot: bool


class SessionOut(BaseModel):
    id: str
    started_at: datetime
    last_activity_at: datetime
    channel: str
    utm: Utm
    referrer: str | None
    landing_url: str | None
    click_id_type: str | None
    ref_code: str | None
    page_view_count: int
    device: Device

    @classmethod
    def of(cls, s: VisitSession) -> SessionOut:
        return cls(
            id=s.id,
            started_at=s.started_at,
            last_activity_at=s.last_activity_at,
            channel=s.channel,
            utm=Utm(
                source=s.utm_source,
                medium=s.utm_medium,
                campaign=s.utm_campaign,
                content=s.utm_content,
                term=s.utm_term,
            ),
            referrer=s.referrer,
            landing_url=s.landing_url,
            click_id_type=s.click_id_type,
            ref_code=s.ref_code,
            page_view_count=s.page_view_count,
            device=Device(type=s.device_type, browser=s.browser, os=s.os, is_bot=s.is_bot),
        )


class VisitorOut(BaseModel):
    visitor_id: str
    identity_id: str | None
    user_id: str | None
    first_seen_at: datetime
    last_seen_at: datetime
    sessions: list[SessionOut]  # oldest first
    events: list[EventOut]  # the latest ones, oldest first; all of them: GET /api/v1/events?visitor=…
    more_events: bool


@router.get(
    "/visitors/{visitor_id}",
    response_model=VisitorOut,
    summary=f"A visitor's sessions and latest {VISITOR_EVENTS} events",
)
def get_visitor(reader: ReaderDep, visitor_id: Annotated[str, Path(min_length=1, max_length=128)]) -> VisitorOut:
    view = reader.visitor(visitor_id)
    if view is None:
        raise NotFoundError("visitor not found")
    return VisitorOut(
        visitor_id=view.visitor.visitor_key,
        identity_id=view.visitor.identity_id,
        user_id=view.user_id,
        first_seen_at=view.visitor.first_seen_at,
        last_seen_at=view.visitor.last_seen_at,
        sessions=[SessionOut.of(s) for s in view.sessions],
        events=[EventOut.of(e) for e in view.events],
        more_events=view.more_events,
    )
