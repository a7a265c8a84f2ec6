"""The event log (filters, date range, cursor) and a visitor's journey: the JSON API's readers, in HTML."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from multibuzz.api.routers.conversions import list_conversions
from multibuzz.api.routers.events import EventOut, decode_cursor, encode_cursor
from multibuzz.api.routers.visitors import SessionOut
from multibuzz.errors import NotFoundError
from multibuzz.http.deps import ContainerDep, SessionDep
from multibuzz.services.tracking import EventFilter, TrackingReader
from multibuzz.web.dates import RANGES
from multibuzz.web.deps import Advertiser, account_of, reader_of
from multibuzz.web.pages.common import date_range
from multibuzz.web.render import render

router = APIRouter(include_in_schema=False)
PAGE = 50


@router.get("/app/events", response_class=HTMLResponse)
def events_page(request: Request, actor: Advertiser, session: SessionDep, container: ContainerDep) -> Response:
    assert actor.account_id is not None
    window = date_range(request, account_of(session, actor), container)
    query = request.query_params
    filters = {name: (query.get(name) or "").strip()[:128] for name in ("type", "funnel", "visitor")}
    cursor = query.get("cursor") or None
    rows = TrackingReader(session, actor.account_id).events(
        EventFilter(
            event_type=filters["type"] or None,
            funnel=filters["funnel"] or None,
            start=window.start,
            end=window.end,
            visitor_key=filters["visitor"] or None,
            before=decode_cursor(cursor) if cursor else None,
        ),
        PAGE + 1,
    )
    page = rows[:PAGE]
    return render(
        request,
        "events.html",
        window=window,
        ranges=RANGES,
        filters=filters,
        events=[EventOut.of(v) for v in page],
        next_url=(
            "?" + urlencode({**window.query(), **filters, "cursor": encode_cursor(page[-1])})
            if len(rows) > PAGE and page
            else None
        ),
    )


@router.get("/app/visitors/{visitor_id}", response_class=HTMLResponse)
def visitor_page(visitor_id: str, request: Request, actor: Advertiser, session: SessionDep) -> Response:
    assert actor.account_id is not None
    view = TrackingReader(session, actor.account_id).visitor(visitor_id[:128])
    if view is None:
        raise NotFoundError("No visitor with that id in this account.")
    conversions = list_conversions(
        reader_of(actor),
        session,
        conversion_type=None,
        status=None,
        visitor_id=visitor_id,
        start=None,
        end=None,
        limit=50,
        cursor=None,
    )
    return render(
        request,
        "visitor.html",
        visitor=view.visitor,
        user_id=view.user_id,
        sessions=[SessionOut.of(s) for s in sorted(view.sessions, key=lambda s: s.started_at)],
        events=[EventOut.of(e) for e in view.events],
        more_events=view.more_events,
        conversions=conversions["data"],
    )
