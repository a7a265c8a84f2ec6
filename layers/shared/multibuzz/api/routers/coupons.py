"""Coupons: create one, generate many, regenerate (new code, old invalidated), invalidate."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from multibuzz.api.routers.campaigns import InfluencersDep, Limit
from multibuzz.api.schemas import Strict
from multibuzz.db.models.influencer import Coupon
from multibuzz.domain.coupons import MAX_COUNT
from multibuzz.http.deps import AccountActor
from multibuzz.http.params import Cursor
from multibuzz.services.pagination import Page

router = APIRouter(prefix="/api/v1/coupons", tags=["coupons"])

Charset = Literal["upper", "lower", "digits", "alnum", "custom"]


class CouponIn(Strict):
    code: str = Field(min_length=1, max_length=64)
    campaign_id: str | None = None
    influencer_id: str | None = None


class GenerateIn(Strict):
    campaign_id: str | None = None
    influencer_id: str | None = None
    prefix: str = Field(default="", max_length=64)
    length: int = Field(default=8, ge=1, le=64, description="Random characters after the prefix")
    charset: Charset = "alnum"
    custom_charset: str | None = Field(default=None, max_length=100)
    exclude_ambiguous: bool = True
    count: int = Field(default=1, ge=1, le=MAX_COUNT)


class RegenerateIn(Strict):
    code: str | None = Field(default=None, max_length=64, description="The new code; generated when omitted")
    prefix: str = Field(default="", max_length=64)
    length: int = Field(default=8, ge=1, le=64)
    charset: Literal["upper", "lower", "digits", "alnum"] = "alnum"
    exclude_ambiguous: bool = True


class CouponOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    code: str
    campaign_id: str | None
    influencer_id: str | None
    status: str
    replaced_by_id: str | None
    created_at: datetime
    invalidated_at: datetime | None


class GeneratedOut(BaseModel):
    count: int
    data: list[CouponOut]


class RegeneratedOut(BaseModel):
    coupon: CouponOut
    replaced: CouponOut


def _out(coupon: Coupon) -> CouponOut:
    return CouponOut.model_validate(coupon)


@router.post("", response_model=CouponOut, status_code=status.HTTP_201_CREATED)
def create_coupon(body: CouponIn, actor: AccountActor, service: InfluencersDep) -> CouponOut:
    return _out(service.create_coupon(actor, **body.model_dump()))


@router.post("/generate", response_model=GeneratedOut, status_code=status.HTTP_201_CREATED)
def generate(body: GenerateIn, actor: AccountActor, service: InfluencersDep) -> GeneratedOut:
    created = service.generate_coupons(actor, **body.model_dump())
    return GeneratedOut(count=len(created), data=[_out(c) for c in created])


@router.get("", response_model=Page[CouponOut])
def list_coupons(
    actor: AccountActor,
    service: InfluencersDep,
    status: Literal["active", "invalidated"] | None = None,
    campaign_id: str | None = None,
    influencer_id: str | None = None,
    generic: bool | None = None,
    code: str | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[CouponOut]:
    page = service.list_coupons(
        actor,
        status=status,
        campaign_id=campaign_id,
        influencer_id=influencer_id,
        generic=generic,
        code=code,
        cursor=cursor,
        limit=limit,
    )
    return Page[CouponOut](data=[_out(c) for c in page.items], next_cursor=page.next_cursor)


@router.get("/{coupon_id}", response_model=CouponOut)
def get_coupon(coupon_id: str, actor: AccountActor, service: InfluencersDep) -> CouponOut:
    return _out(service.get_coupon(actor, coupon_id))


@router.post("/{coupon_id}/regenerate", response_model=RegeneratedOut, status_code=status.HTTP_201_CREATED)
def regenerate(
    coupon_id: str, actor: AccountActor, service: InfluencersDep, body: RegenerateIn | None = None
) -> RegeneratedOut:
    options = (body or RegenerateIn()).model_dump()
    new, old = service.regenerate_coupon(actor, coupon_id, **options)
    return RegeneratedOut(coupon=_out(new), replaced=_out(old))


@router.post("/{coupon_id}/invalidate", response_model=CouponOut)
def invalidate(coupon_id: str, actor: AccountActor, service: InfluencersDep) -> CouponOut:
    return _out(service.invalidate_coupon(actor, coupon_id))
