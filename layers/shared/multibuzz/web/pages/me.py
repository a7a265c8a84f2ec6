"""The influencer dashboard (influencer users): their links, coupons, clicks and attributed conversions.

Every read goes through the same services with the influencer's actor, which restrict rows to their own
influencer (the services' ``scope.restricted``), so an influencer never sees another's numbers.
"""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from multibuzz.api.routers.conversions import list_conversions
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
    )
