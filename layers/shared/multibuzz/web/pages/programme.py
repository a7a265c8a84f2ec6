"""The influencer programme: campaigns, influencers, tracking links (copy, QR, disable), coupons, clicks."""

from __future__ import annotations

import io
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from multibuzz.api.routers.campaigns import CampaignIn
from multibuzz.api.routers.coupons import MAX_COUNT, CouponIn, GenerateIn
from multibuzz.api.routers.influencers import InfluencerIn
from multibuzz.api.routers.links import LinkIn
from multibuzz.http.deps import ContainerDep, SessionDep
from multibuzz.services.clicks import ClickFilters, list_clicks, summarize_clicks
from multibuzz.services.context import Actor
from multibuzz.services.influencers import InfluencerService
from multibuzz.web.deps import Advertiser, Form
from multibuzz.web.forms import checkbox, pick, validated
from multibuzz.web.render import render

router = APIRouter(include_in_schema=False)
LIST_LIMIT = 200


def service(session: SessionDep, container: ContainerDep) -> InfluencerService:
    return InfluencerService(session, container.clock, container.ids, container.settings.base_url)


def _names(svc: InfluencerService, actor: Actor) -> tuple[dict[str, str], dict[str, str]]:
    campaigns = {c.id: c.name for c in svc.list_campaigns(actor, limit=LIST_LIMIT).items}
    influencers = {i.id: i.name for i in svc.list_influencers(actor, limit=LIST_LIMIT).items}
    return campaigns, influencers


def _see_other(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


@router.get("/app/programme", response_class=HTMLResponse)
def overview(request: Request, actor: Advertiser, session: SessionDep, container: ContainerDep) -> Response:
    svc = service(session, container)
    return render(
        request,
        "programme.html",
        campaigns=svc.list_campaigns(actor, limit=LIST_LIMIT).items,
        influencers=svc.list_influencers(actor, limit=LIST_LIMIT).items,
        clicks=summarize_clicks(session, actor, ClickFilters()),
    )


@router.post("/app/programme/campaigns", response_class=HTMLResponse)
def create_campaign(form: Form, actor: Advertiser, session: SessionDep, container: ContainerDep) -> Response:
    body = validated(CampaignIn, pick(form, "name", "slug", "status", "default_destination_url"))
    campaign = service(session, container).create_campaign(actor, **body.model_dump())
    return _see_other(f"/app/programme/campaigns/{campaign.id}")


@router.get("/app/programme/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(
    campaign_id: str, request: Request, actor: Advertiser, session: SessionDep, container: ContainerDep
) -> Response:
    svc = service(session, container)
    campaign = svc.get_campaign(actor, campaign_id)  # 404 for another account's campaign
    return render(
        request,
        "campaign.html",
        campaign=campaign,
        assigned=svc.campaign_influencers(actor, campaign.id),
        links=svc.list_links(actor, campaign_id=campaign.id, limit=LIST_LIMIT).items,
        coupons=svc.list_coupons(actor, campaign_id=campaign.id, limit=LIST_LIMIT).items,
        tracking_url=svc.tracking_url,
        clicks=summarize_clicks(session, actor, ClickFilters(campaign_id=campaign.id)),
    )


@router.post("/app/programme/influencers", response_class=HTMLResponse)
def create_influencer(form: Form, actor: Advertiser, session: SessionDep, container: ContainerDep) -> Response:
    body = validated(InfluencerIn, pick(form, "name", "handle", "email"))
    service(session, container).create_influencer(actor, **body.model_dump())
    return _see_other("/app/programme")


@router.get("/app/programme/links", response_class=HTMLResponse)
def links_page(request: Request, actor: Advertiser, session: SessionDep, container: ContainerDep) -> Response:
    svc = service(session, container)
    campaigns, influencers = _names(svc, actor)
    return render(
        request,
        "links.html",
        links=svc.list_links(actor, limit=LIST_LIMIT).items,
        campaigns=campaigns,
        influencers=influencers,
        tracking_url=svc.tracking_url,
    )


@router.post("/app/programme/links", response_class=HTMLResponse)
def create_link(form: Form, actor: Advertiser, session: SessionDep, container: ContainerDep) -> Response:
    data: dict[str, object] = {
        **pick(form, "campaign_id", "influencer_id", "destination_url"),
        "forward_utms": checkbox(form, "forward_utms"),
        "default_utms": checkbox(form, "default_utms"),
    }
    body = validated(LinkIn, data)
    service(session, container).create_link(actor, **body.model_dump())
    return _see_other("/app/programme/links")


def _link_status(
    link_id: str, active: bool, request: Request, actor: Actor, session: SessionDep, container: ContainerDep
) -> Response:
    svc = service(session, container)
    link = svc.set_link_status(actor, link_id, active=active)
    if request.headers.get("hx-request"):
        campaigns, influencers = _names(svc, actor)
        return render(
            request,
            "partials/link_row.html",
            link=link,
            campaigns=campaigns,
            influencers=influencers,
            tracking_url=svc.tracking_url,
        )
    return _see_other("/app/programme/links")


@router.post("/app/programme/links/{link_id}/disable", response_class=HTMLResponse)
def disable_link(
    link_id: str, request: Request, form: Form, actor: Advertiser, session: SessionDep, container: ContainerDep
) -> Response:
    return _link_status(link_id, False, request, actor, session, container)


@router.post("/app/programme/links/{link_id}/enable", response_class=HTMLResponse)
def enable_link(
    link_id: str, request: Request, form: Form, actor: Advertiser, session: SessionDep, container: ContainerDep
) -> Response:
    return _link_status(link_id, True, request, actor, session, container)


@router.get("/app/programme/links/{link_id}/qr.svg")
def link_qr(link_id: str, actor: Advertiser, session: SessionDep, container: ContainerDep) -> Response:
    import segno

    svc = service(session, container)
    link = svc.get_link(actor, link_id)
    buffer = io.BytesIO()
    segno.make(svc.tracking_url(link.code), error="m", micro=False).save(
        buffer, kind="svg", scale=4, border=2, xmldecl=False
    )
    return Response(buffer.getvalue(), media_type="image/svg+xml", headers={"cache-control": "private, max-age=300"})


def _coupons_context(svc: InfluencerService, actor: Actor) -> dict[str, Any]:
    campaigns, influencers = _names(svc, actor)
    return {
        "coupons": svc.list_coupons(actor, limit=LIST_LIMIT).items,
        "campaigns": campaigns,
        "influencers": influencers,
        "max_count": MAX_COUNT,
    }


@router.get("/app/programme/coupons", response_class=HTMLResponse)
def coupons_page(request: Request, actor: Advertiser, session: SessionDep, container: ContainerDep) -> Response:
    return render(request, "coupons.html", generated=[], **_coupons_context(service(session, container), actor))


@router.post("/app/programme/coupons/generate", response_class=HTMLResponse)
def generate_coupons(
    request: Request, form: Form, actor: Advertiser, session: SessionDep, container: ContainerDep
) -> Response:
    data: dict[str, object] = {
        **pick(form, "campaign_id", "influencer_id", "prefix", "length", "charset", "custom_charset", "count"),
        "exclude_ambiguous": checkbox(form, "exclude_ambiguous"),
    }
    body = validated(GenerateIn, data)
    svc = service(session, container)
    created = svc.generate_coupons(actor, **body.model_dump())
    session.flush()
    return render(request, "coupons.html", generated=created, **_coupons_context(svc, actor))


@router.post("/app/programme/coupons", response_class=HTMLResponse)
def create_coupon(form: Form, actor: Advertiser, session: SessionDep, container: ContainerDep) -> Response:
    body = validated(CouponIn, pick(form, "code", "campaign_id", "influencer_id"))
    service(session, container).create_coupon(actor, **body.model_dump())
    return _see_other("/app/programme/coupons")


@router.get("/app/programme/clicks", response_class=HTMLResponse)
def clicks_page(request: Request, actor: Advertiser, session: SessionDep, container: ContainerDep) -> Response:
    svc = service(session, container)
    campaigns, influencers = _names(svc, actor)
    return render(
        request,
        "clicks.html",
        summary=summarize_clicks(session, actor, ClickFilters()),
        clicks=list_clicks(session, actor, ClickFilters(), limit=100).items,
        campaigns=campaigns,
        influencers=influencers,
    )
