"""Conversions: the list (date range, type, status) and one conversion's journey with every model's credit."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Literal, cast
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from multibuzz.api.routers.conversions import get_conversion, list_conversions
from multibuzz.domain.attribution import MODELS
from multibuzz.errors import InvalidInputError
from multibuzz.http.deps import ContainerDep, SessionDep
from multibuzz.services.context import Actor
from multibuzz.web.dates import RANGES
from multibuzz.web.deps import Advertiser, WebActor, account_of, reader_of
from multibuzz.web.pages.common import date_range
from multibuzz.web.render import render

router = APIRouter(include_in_schema=False)
STATUSES = ("pending", "attributed", "failed")


def journey(attribution: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The touches (one per session, in time order) with each model's credit beside them."""
    if not attribution:
        return []
    touches: OrderedDict[str, dict[str, Any]] = OrderedDict()
    for model, credits in attribution["models"].items():
        for credit in credits:
            key = credit["session_id"] or f"{credit['channel']}@{credit['touch_at']}"
            touch = touches.setdefault(
                key,
                {
                    "session_id": credit["session_id"],
                    "channel": credit["channel"],
                    "utm_source": credit["utm_source"],
                    "utm_medium": credit["utm_medium"],
                    "utm_campaign": credit["utm_campaign"],
                    "touch_at": credit["touch_at"],
                    "credits": {},
                },
            )
            touch["credits"][model] = {"credit": credit["credit"], "revenue": credit["revenue_credit"]}
    return sorted(touches.values(), key=lambda t: t["touch_at"] or "")


def _conversion_list(request: Request, actor: Actor, session: SessionDep, container: ContainerDep) -> dict[str, Any]:
    account = account_of(session, actor)
    window = date_range(request, account, container)
    status = request.query_params.get("status") or None
    if status is not None and status not in STATUSES:
        raise InvalidInputError("status must be pending, attributed or failed", field="status")
    conversion_type = request.query_params.get("type") or None
    page = list_conversions(
        reader_of(actor),
        session,
        conversion_type=conversion_type,
        status=cast(Literal["pending", "attributed", "failed"] | None, status),
        visitor_id=None,
        start=window.start,
        end=window.end,
        limit=50,
        cursor=request.query_params.get("cursor") or None,
    )
    return {
        "window": window,
        "ranges": RANGES,
        "conversions": page["data"],
        "next_url": (
            "?"
            + urlencode(
                {**window.query(), "status": status or "", "type": conversion_type or "", "cursor": page["next_cursor"]}
            )
            if page["next_cursor"]
            else None
        ),
        "status": status or "",
        "statuses": STATUSES,
        "conversion_type": conversion_type or "",
    }


@router.get("/app/conversions", response_class=HTMLResponse)
def conversions_page(request: Request, actor: Advertiser, session: SessionDep, container: ContainerDep) -> Response:
    return render(request, "conversions.html", **_conversion_list(request, actor, session, container))


@router.get("/app/conversions/{conversion_id}", response_class=HTMLResponse)
def conversion_page(conversion_id: str, request: Request, actor: WebActor, session: SessionDep) -> Response:
    """Advertisers see any conversion of the account; influencer users only those credited to them (404)."""
    if actor.account_id is None:
        raise InvalidInputError("no account selected", field="account")
    found = get_conversion(conversion_id, reader_of(actor), session, version=None)
    attribution = found["attribution"]
    return render(
        request,
        "conversion.html",
        conversion=found["conversion"],
        attribution=attribution,
        touches=journey(attribution),
        models=MODELS,
        influencer=(attribution or {}).get("influencer"),
        failure=found.get("failure_reason"),
    )
