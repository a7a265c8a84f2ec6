"""Influencer programme overview: clicks, add-to-carts, purchases, drop-offs, a funnel, and per influencer and
per campaign tables with commission — from the functions behind ``GET /api/v1/stats/overview``,
``/stats/per-influencer``, ``/stats/per-campaign`` and ``/funnels/{funnel}`` (called in-process).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from multibuzz.api.routers.stats import advertiser_reports, per_campaign, per_influencer
from multibuzz.api.routers.stats import funnel as funnel_report
from multibuzz.api.routers.stats import overview as overview_report
from multibuzz.errors import InvalidInputError
from multibuzz.http.deps import ContainerDep, SessionDep
from multibuzz.web.dates import RANGES
from multibuzz.web.deps import Advertiser, account_of, reader_of
from multibuzz.web.pages.common import date_range
from multibuzz.web.render import render

router = APIRouter(include_in_schema=False)
DEFAULT_FUNNEL = "checkout"


def programme_funnel(current: dict[str, Any]) -> list[dict[str, Any]]:
    """Clicks → add-to-carts → purchases (the period's events), each step's drop-off from the one before."""
    events = current.get("events", {})
    steps = [("Clicks", current["clicks"]), ("Add to cart", events.get("add_to_cart", 0))]
    steps.append(("Purchases", events.get("purchase", 0)))
    out, previous = [], None
    for name, value in steps:
        out.append({"step": name, "count": value, "drop_off": None if previous is None else max(previous - value, 0)})
        previous = value
    return out


@router.get("/app/programme/overview", response_class=HTMLResponse)
def programme_overview(request: Request, actor: Advertiser, session: SessionDep, container: ContainerDep) -> Response:
    window = date_range(request, account_of(session, actor), container)
    name = request.query_params.get("funnel", DEFAULT_FUNNEL).strip() or DEFAULT_FUNNEL
    if len(name) > 100:
        raise InvalidInputError("funnel is at most 100 characters", field="funnel")
    reports = advertiser_reports(reader_of(actor), session, container)
    first, last = window.first_day, window.last_day
    stats = overview_report(reports, first, last)
    current = stats["current"]
    steps = programme_funnel(current)
    chart = {"labels": [s["step"] for s in steps], "values": [s["count"] for s in steps], "label": "Visitors"}
    return render(
        request,
        "programme_overview.html",
        window=window,
        ranges=RANGES,
        stats=stats,
        current=current,
        steps=steps,
        funnel_name=name,
        funnel=funnel_report(reports, name, first, last, None),
        influencers=per_influencer(reports, first, last)["data"],
        campaigns=per_campaign(reports, first, last)["data"],
        chart_json=json.dumps(chart),
    )
