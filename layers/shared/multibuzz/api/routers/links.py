"""Tracking links: create, list, regenerate (new code, old one 410), disable/enable, QR code."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from multibuzz.api.routers.campaigns import InfluencersDep, Limit
from multibuzz.api.schemas import Strict
from multibuzz.db.models.influencer import TrackingLink
from multibuzz.http.deps import AccountActor
from multibuzz.http.params import Cursor
from multibuzz.services.influencers import InfluencerService
from multibuzz.services.pagination import Page

router = APIRouter(prefix="/api/v1/links", tags=["links"])


class LinkIn(Strict):
    campaign_id: str = Field(min_length=1, max_length=40)
    influencer_id: str = Field(min_length=1, max_length=40)
    destination_url: str | None = Field(default=None, max_length=2048, description="Defaults to the campaign's")
    forward_utms: bool = Field(default=True, description="Let utm_* of the clicked URL override the destination's")
    default_utms: bool = Field(default=True, description="Add utm_source/medium/campaign unless present")


class LinkOut(BaseModel):
    id: str
    code: str
    tracking_url: str
    campaign_id: str
    influencer_id: str
    destination_url: str
    forward_utms: bool
    status: str
    replaced_by_id: str | None
    created_at: datetime
    disabled_at: datetime | None


class RegeneratedLinkOut(BaseModel):
    link: LinkOut
    replaced: LinkOut


def _out(link: TrackingLink, service: InfluencerService) -> LinkOut:
    return LinkOut(
        id=link.id,
        code=link.code,
        tracking_url=service.tracking_url(link.code),
        campaign_id=link.campaign_id,
        influencer_id=link.influencer_id,
        destination_url=link.destination_url,
        forward_utms=link.forward_utms,
        status=link.status,
        replaced_by_id=link.replaced_by_id,
        created_at=link.created_at,
        disabled_at=link.disabled_at,
    )


@router.post("", response_model=LinkOut, status_code=status.HTTP_201_CREATED)
def create_link(body: LinkIn, actor: AccountActor, service: InfluencersDep) -> LinkOut:
    return _out(service.create_link(actor, **body.model_dump()), service)


@router.get("", response_model=Page[LinkOut])
def list_links(
    actor: AccountActor,
    service: InfluencersDep,
    status: Literal["active", "disabled"] | None = None,
    campaign_id: str | None = None,
    influencer_id: str | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[LinkOut]:
    page = service.list_links(
        actor, status=status, campaign_id=campaign_id, influencer_id=influencer_id, cursor=cursor, limit=limit
    )
    return Page[LinkOut](data=[_out(link, service) for link in page.items], next_cursor=page.next_cursor)


@router.get("/{link_id}", response_model=LinkOut)
def get_link(link_id: str, actor: AccountActor, service: InfluencersDep) -> LinkOut:
    return _out(service.get_link(actor, link_id), service)


@router.post("/{link_id}/regenerate", response_model=RegeneratedLinkOut, status_code=status.HTTP_201_CREATED)
def regenerate(link_id: str, actor: AccountActor, service: InfluencersDep) -> RegeneratedLinkOut:
    new, old = service.regenerate_link(actor, link_id)
    return RegeneratedLinkOut(link=_out(new, service), replaced=_out(old, service))


@router.post("/{link_id}/disable", response_model=LinkOut)
def disable(link_id: str, actor: AccountActor, service: InfluencersDep) -> LinkOut:
    return _out(service.set_link_status(actor, link_id, active=False), service)


@router.post("/{link_id}/enable", response_model=LinkOut)
def enable(link_id: str, actor: AccountActor, service: InfluencersDep) -> LinkOut:
    return _out(service.set_link_status(actor, link_id, active=True), service)


@router.get("/{link_id}/qr.svg", response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}})
def qr_svg(link_id: str, actor: AccountActor, service: InfluencersDep, scale: int = 4) -> Response:
    """The tracking URL as a QR code (SVG, error correction M)."""
    import io

    import segno

    link = service.get_link(actor, link_id)
    qr = segno.make(service.tracking_url(link.code), error="m", micro=False)
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", scale=max(1, min(scale, 20)), border=2, xmldecl=False)
    return Response(buffer.getvalue(), media_type="image/svg+xml", headers={"cache-control": "private, max-age=300"})
