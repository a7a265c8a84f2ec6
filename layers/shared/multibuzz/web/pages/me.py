"""The influencer dashboard (influencer users): sales, clicks and commission cards and "my traffic" / "my
conversions" charts (``GET /api/v1/influencer/stats/{overview,chart}``, called in-process), their links,
coupons, clicks and attributed conversions.

Every read goes through the same services with the influencer's actor, which restrict rows to their own
influencer (the services' ``scope.restricted``), so an influencer never sees another's numbers.
"""

from __future__ import annotations

import json
from decimal import Decimal

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from multibuzz.api.routers.conversions import list_conversions
from multibuzz.api.routers.stats import influencer_chart, influencer_overview, influencer_reports
from multibuzz.http.deps import ContainerDep, SessionDep
from multibuzz.services.clicks import ClickFilters, summarize_clicks
from multibuzz.services.influencers import InfluencerService
from multibuzz.web.dates import RANGES
from multibuzz.web.deps import InfluencerUser, account_of, reader_of
from multibuzz.web.pages.common import date_range
from multibuzz.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/app/me", response_class=HTMLResponse)
def dashboard(request: Request, actor: InfluencerUser, session: SessionDep, container: ContainerDep) -> Response:
    assert actor.influencer_id is not None
    window = date_range(request, account_of(session, actor), container)
    svc = InfluencerService(session, container.clock, container.ids, container.settings.base_url)
    conversions = list_conversions(
        reader_of(actor),
        session,
        conversion_type=None,
        status=None,
        visitor_id=None,
        start=window.start,
        end=window.end,
        limit=200,
        cursor=None,
    )["data"]
    reports = influencer_reports(reader_of(actor), session, container)
    overview = influencer_overview(reports, window.first_day, window.last_day)
    series = influencer_chart(reports, window.first_day, window.last_day, "day")["series"]
    labels = [str(p["at"]) for p in series]
    traffic = {"labels": labels, "values": [p["clicks"] for p in series], "label": "Clicks on my links"}
    converted = {
        "labels": labels,
        "datasets": [
            {"label": "My conversions", "values": [p["conversions"] for p in series]},
            {
                "label": f"My sales ({overview['currency']})",
                "values": [float(p["revenue"]) for p in series],
                "type": "line",
                "axis": "y1",
            },
        ],
    }
    sales: dict[str, Decimal] = {}
    for conversion in conversions:
        sales[conversion["currency"]] = sales.get(conversion["currency"], Decimal(0)) + Decimal(conversion["revenue"])
    return render(
        request,
        "me.html",
        window=window,
        ranges=RANGES,
        influencer=svc.get_influencer(actor, actor.influencer_id),
        links=svc.list_links(actor, limit=200).items,
        coupons=svc.list_coupons(actor, limit=200).items,
        tracking_url=svc.tracking_url,
        clicks=summarize_clicks(session, actor, ClickFilters(since=window.start, until=window.end)),
        conversions=conversions,
        sales=sorted(sales.items()),
        overview=overview,
        traffic_json=json.dumps(traffic),
        conversions_json=json.dumps(converted),
    )
