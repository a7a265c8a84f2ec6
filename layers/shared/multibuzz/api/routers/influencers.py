"""Influencers, and an optional login for one (a user with role influencer, read-own)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from multibuzz.api.access import InvitationsDep, invitation_created
from multibuzz.api.routers.campaigns import InfluencersDep, Limit
from multibuzz.api.schemas import Email, InvitationCreatedOut, Strict
from multibuzz.db.models.influencer import Influencer
from multibuzz.errors import InvalidInputError
from multibuzz.http.deps import AccountActor, ContainerDep
from multibuzz.http.params import Cursor
from multibuzz.services.pagination import Page

router = APIRouter(prefix="/api/v1/influencers", tags=["influencers"])

InfluencerStatus = Literal["active", "inactive"]


class InfluencerIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    handle: str = Field(min_length=1, max_length=101)
    email: Email | None = None
    status: InfluencerStatus = "active"


class InfluencerPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    handle: str | None = Field(default=None, min_length=1, max_length=101)
    email: Email | None = None
    status: InfluencerStatus | None = None


class InfluencerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    handle: str
    email: str | None
    status: str
    created_at: datetime
    updated_at: datetime


class InfluencerLoginIn(Strict):
    email: Email | None = Field(default=None, description="Defaults to the influencer's email")


def _out(influencer: Influencer) -> InfluencerOut:
    return InfluencerOut.model_validate(influencer)


@router.post("", response_model=InfluencerOut, status_code=status.HTTP_201_CREATED)
def create_influencer(body: InfluencerIn, actor: AccountActor, service: InfluencersDep) -> InfluencerOut:
    return _out(service.create_influencer(actor, **body.model_dump()))


@router.get("", response_model=Page[InfluencerOut])
def list_influencers(
    actor: AccountActor,
    service: InfluencersDep,
    status: InfluencerStatus | None = None,
    campaign_id: str | None = None,
    q: str | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[InfluencerOut]:
    page = service.list_influencers(actor, status=status, campaign_id=campaign_id, q=q, cursor=cursor, limit=limit)
    return Page[InfluencerOut](data=[_out(i) for i in page.items], next_cursor=page.next_cursor)


@router.get("/{influencer_id}", response_model=InfluencerOut)
def get_influencer(influencer_id: str, actor: AccountActor, service: InfluencersDep) -> InfluencerOut:
    return _out(service.get_influencer(actor, influencer_id))


@router.patch("/{influencer_id}", response_model=InfluencerOut)
def update_influencer(
    influencer_id: str, body: InfluencerPatch, actor: AccountActor, service: InfluencersDep
) -> InfluencerOut:
    return _out(service.update_influencer(actor, influencer_id, body.model_dump(exclude_unset=True)))


@router.post("/{influencer_id}/login", response_model=InvitationCreatedOut, status_code=status.HTTP_201_CREATED)
def create_login(
    influencer_id: str,
    body: InfluencerLoginIn,
    actor: AccountActor,
    service: InfluencersDep,
    invitations: InvitationsDep,
    container: ContainerDep,
) -> InvitationCreatedOut:
    """Invite the influencer to log in (owners only): role ``influencer`` bound to it, once they accept."""
    assert actor.account_id is not None
    influencer = service.get_influencer(actor, influencer_id)
    email = body.email or influencer.email
    if not email:
        raise InvalidInputError("email is required (the influencer has none on file)", field="email")
    invitation, token = invitations.invite(
        actor, actor.account_id, email=email, role="influencer", influencer_id=influencer.id
    )
    return invitation_created(invitation, token, container)
