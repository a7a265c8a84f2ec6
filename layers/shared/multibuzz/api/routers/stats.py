"""Stats (account owners and members, JWT only), funnels, commission rules, and an influencer's own stats.

Least privilege: the account stats and funnels are read with ``account_reader`` — a logged-in owner or
member of the token's account; API keys are refused whatever their scopes (a leaked ingest or SDK key
must not read revenue), and influencer users get 403 (they read ``/influencer/stats/…`` instead, which
only ever shows their own influencer). Commission rules are written by owners and members.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field
from sqlalchemy import select

from multibuzz.api.schemas import Strict
from multibuzz.db.models.influencer import Campaign, CampaignInfluencer
from multibuzz.db.models.reports import CommissionRule
from multibuzz.errors import NotFoundError, PermissionDeniedError
from multibuzz.http.deps import ContainerDep, SessionDep, WriterActor
from multibuzz.http.readers import AccountReader, Reader
from multibuzz.reports.service import Reports

router = APIRouter(tags=["stats"])

From = Annotated[date | None, Query(alias="from", description="first local day (YYYY-MM-DD), inclusive")]
To = Annotated[date | None, Query(alias="to", description="last local day (YYYY-MM-DD), inclusive")]
Granularity = Annotated[Literal["day", "hour"], Query(description="hour: the last 7 days only")]


def _advertiser(reader: Reader) -> Reader:
    if reader.influencer_id is not None:
        raise PermissionDeniedError("influencer users read /api/v1/influencer/stats")
    return reader


def advertiser_reports(reader: AccountReader, session: SessionDep, container: ContainerDep) -> Reports:
    return Reports(session, container.clock, _advertiser(reader).account_id)


def influencer_reports(reader: AccountReader, session: SessionDep, container: ContainerDep) -> tuple[Reports, str]:
    if reader.influencer_id is None:
        raise PermissionDeniedError("only influencer users have influencer stats")
    return Reports(session, container.clock, reader.account_id), reader.influencer_id


ReportsDep = Annotated[Reports, Depends(advertiser_reports)]
InfluencerReportsDep = Annotated[tuple[Reports, str], Depends(influencer_reports)]


@router.get("/api/v1/stats/overview")
def overview(reports: ReportsDep, first: From = None, last: To = None) -> dict[str, Any]:
    """Totals of the range and of the previous period of the same length."""
    return reports.overview(first, last)


@router.get("/api/v1/stats/chart")
def chart(reports: ReportsDep, first: From = None, last: To = None, granularity: Granularity = "day") -> dict[str, Any]:
    return reports.chart(first, last, granularity)


@router.get("/api/v1/stats/per-influencer")
def per_influencer(reports: ReportsDep, first: From = None, last: To = None) -> dict[str, Any]:
    return reports.per_influencer(first, last)


@router.get("/api/v1/stats/per-campaign")
def per_campaign(reports: ReportsDep, first: From = None, last: To = None) -> dict[str, Any]:
    return reports.per_campaign(first, last)


@router.get("/api/v1/stats/channels")
def channels(
    reports: ReportsDep,
    first: From = None,
    last: To = None,
    model: Annotated[str, Query(max_length=30, description="all, or one attribution model")] = "all",
) -> dict[str, Any]:
    return reports.channels(first, last, model)


@router.get("/api/v1/funnels/{funnel}")
def funnel(
    reports: ReportsDep,
    funnel: Annotated[str, Path(min_length=1, max_length=100)],
    first: From = None,
    last: To = None,
    split: Annotated[Literal["channel"] | None, Query(description="channel: one funnel per channel too")] = None,
) -> dict[str, Any]:
    """Sessions reaching each position of the funnel (events' ``funnel``/``funnel_position``)."""
    return reports.funnel(funnel, first, last, split)


@router.get("/api/v1/influencer/stats/overview")
def influencer_overview(reports: InfluencerReportsDep, first: From = None, last: To = None) -> dict[str, Any]:
    service, influencer_id = reports
    return service.influencer_overview(influencer_id, first, last)


@router.get("/api/v1/influencer/stats/chart")
def influencer_chart(
    reports: InfluencerReportsDep, first: From = None, last: To = None, granularity: Granularity = "day"
) -> dict[str, Any]:
    service, influencer_id = reports
    answer = service.chart(first, last, granularity, "influencer", influencer_id)
    return {**answer, "influencer_id": influencer_id}


# -- commission rules ----------------------------------------------------------------------------------


class CommissionIn(Strict):
    kind: Literal["rate", "fixed"]
    value: Decimal = Field(ge=0, le=Decimal("1000000"), max_digits=18, decimal_places=6)
    influencer_id: str | None = Field(default=None, min_length=1, max_length=40)


def _campaign(session: SessionDep, account_id: str, campaign_id: str) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.account_id != account_id:
        raise NotFoundError("campaign not found")
    return campaign


def _rule_out(rule: CommissionRule) -> dict[str, Any]:
    return {
        "campaign_id": rule.campaign_id,
        "influencer_id": rule.influencer_id or None,
        "kind": rule.kind,
        "value": str(Decimal(rule.value).normalize()),
    }


@router.get("/api/v1/campaigns/{campaign_id}/commission")
def list_commission(campaign_id: str, reports: ReportsDep, session: SessionDep) -> list[dict[str, Any]]:
    """The campaign's commission rule (``influencer_id`` null) and its assignments' overrides."""
    _campaign(session, reports.account_id, campaign_id)
    rules = session.scalars(
        select(CommissionRule)
        .where(CommissionRule.account_id == reports.account_id, CommissionRule.campaign_id == campaign_id)
        .order_by(CommissionRule.influencer_id)
    )
    return [_rule_out(r) for r in rules]


@router.put("/api/v1/campaigns/{campaign_id}/commission")
def set_commission(
    campaign_id: str, body: CommissionIn, actor: WriterActor, session: SessionDep, container: ContainerDep
) -> dict[str, Any]:
    """Set the campaign's commission, or (with ``influencer_id``) an assigned influencer's override."""
    assert actor.account_id is not None
    if body.kind == "rate" and body.value > 1:
        from multibuzz.errors import InvalidInputError

        raise InvalidInputError("a rate is a fraction of revenue between 0 and 1", field="value")
    _campaign(session, actor.account_id, campaign_id)
    influencer_id = body.influencer_id or ""
    if influencer_id:
        assigned = session.scalar(
            select(CampaignInfluencer.id).where(
                CampaignInfluencer.account_id == actor.account_id,
                CampaignInfluencer.campaign_id == campaign_id,
                CampaignInfluencer.influencer_id == influencer_id,
            )
        )
        if assigned is None:
            raise NotFoundError("that influencer is not assigned to the campaign")
    rule = session.get(CommissionRule, (actor.account_id, campaign_id, influencer_id))
    if rule is None:
        rule = CommissionRule(account_id=actor.account_id, campaign_id=campaign_id, influencer_id=influencer_id)
        session.add(rule)
    rule.kind = body.kind
    rule.value = body.value
    rule.updated_at = container.clock.now()
    session.flush()
    return _rule_out(rule)
