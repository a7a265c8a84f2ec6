"""Clicks on tracking links: the raw list (bots included, flagged) and a summary."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from multibuzz.api.routers.campaigns import Limit
from multibuzz.http.deps import AccountActor, SessionDep
from multibuzz.http.params import Cursor
from multibuzz.services.clicks import ClickFilters, list_clicks, summarize_clicks
from multibuzz.services.pagination import Page

router = APIRouter(prefix="/api/v1/clicks", tags=["clicks"])


class ClickOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    link_id: str
    campaign_id: str
    influencer_id: str
    code: str
    occurred_at: datetime
    device_type: str | None
    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    is_bot: bool
    bot_reason: str | None
    referrer: str | None
    ip: str | None
    country: str | None
    city: str | None
    destination_url: str | None
    outside_live_window: bool
    used_fallback: bool
    unique_click: bool


class ClickSummaryOut(BaseModel):
    clicks: int
    unique_clicks: int
    bot_hits: int


def _filters(
    link_id: str | None = None,
    campaign_id: str | None = None,
    influencer_id: str | None = None,
    is_bot: bool | None = None,
    unique: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ClickFilters:
    return ClickFilters(link_id, campaign_id, influencer_id, is_bot, unique, since, until)


@router.get("", response_model=Page[ClickOut])
def get_clicks(
    actor: AccountActor,
    session: SessionDep,
    link_id: str | None = None,
    campaign_id: str | None = None,
    influencer_id: str | None = None,
    is_bot: bool | None = None,
    unique: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ClickOut]:
    filters = _filters(link_id, campaign_id, influencer_id, is_bot, unique, since, until)
    page = list_clicks(session, actor, filters, cursor=cursor, limit=limit)
    return Page[ClickOut](data=[ClickOut.model_validate(c) for c in page.items], next_cursor=page.next_cursor)


@router.get("/summary", response_model=ClickSummaryOut)
def get_summary(
    actor: AccountActor,
    session: SessionDep,
    link_id: str | None = None,
    campaign_id: str | None = None,
    influencer_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ClickSummaryOut:
    filters = _filters(link_id, campaign_id, influencer_id, None, None, since, until)
    return ClickSummaryOut(**summarize_clicks(session, actor, filters))
