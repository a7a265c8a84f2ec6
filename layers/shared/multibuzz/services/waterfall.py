"""The DB-backed influencer waterfall resolver: look up the coupon and ref_codes, apply the pure rule.

``resolve_influencer(session, account_id, coupon_code=…, ref_code=…, touches=[TouchRef…])`` does at
most three indexed reads (coupon by normalised code, links by code, their campaigns) and returns an
:class:`~multibuzz.domain.waterfall.InfluencerCredit` or None. Rules and confidences are documented
in :mod:`multibuzz.domain.waterfall`. Every read is filtered by ``account_id``: a code of another
tenant never matches.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from multibuzz.db.models.influencer import Campaign, Coupon, TrackingLink
from multibuzz.domain.coupons import normalize_code
from multibuzz.domain.waterfall import (
    CouponMatch,
    InfluencerCredit,
    LinkMatch,
    TouchOrder,
    TouchRef,
    candidate_ref_codes,
    decide,
)

__all__ = ["InfluencerCredit", "TouchRef", "resolve_influencer"]

_MAX_CODES = 200


def _campaign_sources(session: Session, account_id: str, campaign_ids: set[str]) -> dict[str, str]:
    if not campaign_ids:
        return {}
    rows = session.execute(
        select(Campaign.id, Campaign.attribution_source).where(
            Campaign.account_id == account_id, Campaign.id.in_(sorted(campaign_ids))
        )
    )
    return {row.id: row.attribution_source for row in rows}


def resolve_influencer(
    session: Session,
    account_id: str,
    *,
    coupon_code: str | None,
    ref_code: str | None,
    touches: Sequence[TouchRef],
    touch: TouchOrder = "first",
) -> InfluencerCredit | None:
    """``touch``: the account's ``influencer_touch`` (first or most recent matching touch in step 3)."""
    coupon_row = None
    if coupon_code and coupon_code.strip():
        coupon_row = session.scalar(
            select(Coupon).where(Coupon.account_id == account_id, Coupon.code_normalized == normalize_code(coupon_code))
        )
    codes = sorted(candidate_ref_codes(ref_code, touches))[:_MAX_CODES]
    link_rows = (
        list(
            session.scalars(
                select(TrackingLink).where(TrackingLink.account_id == account_id, TrackingLink.code.in_(codes))
            )
        )
        if codes
        else []
    )
    campaign_ids = {link.campaign_id for link in link_rows}
    if coupon_row is not None and coupon_row.campaign_id:
        campaign_ids.add(coupon_row.campaign_id)
    sources = _campaign_sources(session, account_id, campaign_ids)
    coupon = (
        CouponMatch(
            coupon_id=coupon_row.id,
            code=coupon_row.code,
            influencer_id=coupon_row.influencer_id,
            campaign_id=coupon_row.campaign_id,
            active=coupon_row.status == "active",
            campaign_source=sources.get(coupon_row.campaign_id or "", "links_and_coupons"),
        )
        if coupon_row is not None
        else None
    )
    links = {
        link.code: LinkMatch(
            link_id=link.id,
            code=link.code,
            influencer_id=link.influencer_id,
            campaign_id=link.campaign_id,
            campaign_source=sources.get(link.campaign_id, "links_and_coupons"),
        )
        for link in link_rows
    }
    return decide(coupon=coupon, ref_code=ref_code, touches=touches, links=links, touch=touch)
