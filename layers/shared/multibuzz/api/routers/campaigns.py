"""Campaigns and their influencer assignments. Owner/member write; influencer users read their own."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field

from multibuzz.api.schemas import Strict
from multibuzz.db.models.influencer import Campaign, Influencer
from multibuzz.http.deps import AccountActor, ContainerDep, SessionDep
from multibuzz.http.params import Cursor
from multibuzz.services.influencers import InfluencerService
from multibuzz.services.pagination import Page

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"])


def influencer_service(session: SessionDep, container: ContainerDep) -> InfluencerService:
    return InfluencerService(session, container.clock, container.ids, container.settings.base_url)


InfluencersDep = Annotated[InfluencerService, Depends(influencer_service)]
Limit = Annotated[int, Query(ge=1, le=200)]

CampaignStatus = Literal["draft", "active", "paused", "archived"]
AttributionSource = Literal["links_and_coupons", "links", "coupons"]


class CampaignIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    slug: str | None = Field(default=None, max_length=100)
    status: CampaignStatus = "active"
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    attribution_source: AttributionSource = "links_and_coupons"
    default_destination_url: str | None = Field(default=None, max_length=2048)
    fallback_url: str | None = Field(default=None, max_length=2048)


class CampaignPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    slug: str | None = Field(default=None, max_length=100)
    status: CampaignStatus | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    attribution_source: AttributionSource | None = None
    default_destination_url: str | None = Field(default=None, max_length=2048)
    fallback_url: str | None = Field(default=None, max_length=2048)


class CampaignOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    slug: str
    status: str
    starts_at: datetime | None
    ends_at: datetime | None
    attribution_source: str
    default_destination_url: str | None
    fallback_url: str | None
    created_at: datetime
    updated_at: datetime


class AssignmentIn(Strict):
    influencer_id: str = Field(min_length=1, max_length=40)


class AssignedInfluencerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    handle: str
    status: str


def _out(campaign: Campaign) -> CampaignOut:
    return CampaignOut.model_validate(campaign)


@router.post("", response_model=CampaignOut, status_code=status.HTTP_201_CREATED)
def create_campaign(body: CampaignIn, actor: AccountActor, service: InfluencersDep) -> CampaignOut:
    return _out(service.create_campaign(actor, **body.model_dump()))


@router.get("", response_model=Page[CampaignOut])
def list_campaigns(
    actor: AccountActor,
    service: InfluencersDep,
    status: CampaignStatus | None = None,
    influencer_id: str | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[CampaignOut]:
    page = service.list_campaigns(actor, status=status, influencer_id=influencer_id, cursor=cursor, limit=limit)
    return Page[CampaignOut](data=[_out(c) for c in page.items], next_cursor=page.next_cursor)


@router.get("/{campaign_id}", response_model=CampaignOut)
def get_campaign(campaign_id: str, actor: AccountActor, service: InfluencersDep) -> CampaignOut:
    return _out(service.get_campaign(actor, campaign_id))


@router.patch("/{campaign_id}", response_model=CampaignOut)
def update_campaign(campaign_id: str, body: CampaignPatch, actor: AccountActor, service: InfluencersDep) -> CampaignOut:
    return _out(service.update_campaign(actor, campaign_id, body.model_dump(exclude_unset=True)))


@router.get("/{campaign_id}/influencers", response_model=list[AssignedInfluencerOut])
def list_assigned(campaign_id: str, actor: AccountActor, service: InfluencersDep) -> list[AssignedInfluencerOut]:
    influencers: list[Influencer] = service.campaign_influencers(actor, campaign_id)
    return [AssignedInfluencerOut.model_validate(i) for i in influencers]


@router.post("/{campaign_id}/influencers", response_model=AssignedInfluencerOut, status_code=status.HTTP_201_CREATED)
def assign(campaign_id: str, body: AssignmentIn, actor: AccountActor, service: InfluencersDep) -> AssignedInfluencerOut:
    service.assign(actor, campaign_id, body.influencer_id)
    return AssignedInfluencerOut.model_validate(service.get_influencer(actor, body.influencer_id))


@router.delete("/{campaign_id}/influencers/{influencer_id}", status_code=status.HTTP_204_NO_CONTENT)
def unassign(campaign_id: str, influencer_id: str, actor: AccountActor, service: InfluencersDep) -> None:
    service.unassign(actor, campaign_id, influencer_id)
