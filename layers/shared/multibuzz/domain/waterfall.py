"""The influencer waterfall: which influencer (if any) earned a conversion, by which rule.

Rules, first match wins (ARCHITECTURE.md section 3):

=====  ===============  ==========  ===================================================================
order  method           confidence  matches when
=====  ===============  ==========  ===================================================================
1      ``coupon``       1.0         the conversion's coupon code is an *active* coupon of an influencer
2      ``ref_code``     0.9         the conversion carries an explicit ref_code of one of our links
3      ``landing_url``  0.7 / 0.6   a touch in the lookback has a ref_code of one of our links in its
                                    landing URL (0.7) or, failing that, in its referrer (0.6); the
                                    FIRST such touch wins (seed 002), or the most recent one when the
                                    account sets ``influencer_touch: "last"``
4      none             —           nothing matched: ``None``
=====  ===============  ==========  ===================================================================

Decisions
---------
* A generic coupon (no influencer) and an invalidated coupon do not stop the waterfall: they fall
  through to the click rules. An invalidated coupon no longer belongs to anybody (it was replaced or
  withdrawn), so it earns nothing; the replacement code does.
* A link that was disabled or regenerated still earns credit for its code: disabling stops future
  redirects, it does not erase a click that already happened.
* A campaign's ``attribution_source`` limits what can earn credit for it: ``coupons`` ignores its
  links, ``links`` ignores its coupons, ``links_and_coupons`` (default) takes both.
* The caller passes only touches inside the lookback window; this module never looks at the clock.
* Step 3's order is the account setting ``influencer_touch``: ``"first"`` (default; the influencer
  who first brought the visitor keeps the credit even if another influencer's link is clicked later)
  or ``"last"`` (last click). Touches are ordered by session start, then session id, so ties are
  deterministic. Steps 1-2 do not depend on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

Method = Literal["coupon", "ref_code", "landing_url"]
TouchOrder = Literal["first", "last"]
TOUCH_ORDERS: tuple[TouchOrder, ...] = ("first", "last")
DEFAULT_TOUCH: TouchOrder = "first"

CONFIDENCE: Mapping[str, float] = {
    "coupon": 1.0,
    "ref_code": 0.9,
    "landing_url": 0.7,
    "referrer": 0.6,
}
ATTRIBUTION_SOURCES = ("links_and_coupons", "links", "coupons")


@dataclass(frozen=True, slots=True)
class TouchRef:
    """A session (touch) of the converting journey, as the waterfall needs it."""

    session_id: str
    landing_url: str | None
    referrer: str | None
    started_at: datetime


@dataclass(frozen=True, slots=True)
class CouponMatch:
    coupon_id: str
    code: str
    influencer_id: str | None
    campaign_id: str | None
    active: bool = True
    campaign_source: str = "links_and_coupons"


@dataclass(frozen=True, slots=True)
class LinkMatch:
    link_id: str
    code: str
    influencer_id: str
    campaign_id: str
    campaign_source: str = "links_and_coupons"


@dataclass(frozen=True, slots=True)
class InfluencerCredit:
    method: Method
    confidence: float
    influencer_id: str
    campaign_id: str | None
    link_id: str | None
    coupon_id: str | None
    code: str
    session_id: str | None = None  # the touch that carried the ref_code (method landing_url)

    def as_dict(self) -> dict[str, object]:
        return {
            "influencer_id": self.influencer_id,
            "campaign_id": self.campaign_id,
            "link_id": self.link_id,
            "coupon_id": self.coupon_id,
            "code": self.code,
            "method": self.method,
            "confidence": self.confidence,
            "session_id": self.session_id,
        }


def _ref_codes_in_url(url: str | None) -> list[str]:
    if not url:
        return []
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return []
    found = [value.strip().lower() for name, value in parse_qsl(parts.query) if name.lower() == "ref_code"]
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if len(segments) >= 2 and segments[-2] == "r":  # a referrer that is our /r/{code} URL itself
        found.append(segments[-1].lower())
    return [code for code in found if code]


def ref_codes_of(touch: TouchRef) -> tuple[list[str], list[str]]:
    """(codes in the landing URL, codes in the referrer), lower-cased, in order of appearance."""
    return _ref_codes_in_url(touch.landing_url), _ref_codes_in_url(touch.referrer)


def candidate_ref_codes(ref_code: str | None, touches: Iterable[TouchRef]) -> set[str]:
    """Every ref_code the waterfall may need to look up (explicit and from touches)."""
    codes = {ref_code.strip().lower()} if ref_code and ref_code.strip() else set()
    for touch in touches:
        landing, referrer = ref_codes_of(touch)
        codes.update(landing)
        codes.update(referrer)
    return codes


def influencer_touch_of(settings: Mapping[str, object] | None) -> TouchOrder:
    """The account's ``influencer_touch`` setting (validated by the settings API), ``"first"`` by default."""
    value = (settings or {}).get("influencer_touch")
    return "last" if value == "last" else DEFAULT_TOUCH


def _coupon_counts(coupon: CouponMatch | None) -> bool:
    return (
        coupon is not None and coupon.active and coupon.influencer_id is not None and coupon.campaign_source != "links"
    )


def _link_counts(link: LinkMatch | None) -> bool:
    return link is not None and link.campaign_source != "coupons"


def decide(
    *,
    coupon: CouponMatch | None,
    ref_code: str | None,
    touches: Sequence[TouchRef],
    links: Mapping[str, LinkMatch],
    touch: TouchOrder = DEFAULT_TOUCH,
) -> InfluencerCredit | None:
    """Apply the waterfall. ``links`` maps lower-cased codes (from :func:`candidate_ref_codes`) to links;
    ``touch`` says whether step 3 takes the first or the most recent matching touch."""
    if coupon is not None and _coupon_counts(coupon):
        assert coupon.influencer_id is not None
        return InfluencerCredit(
            method="coupon",
            confidence=CONFIDENCE["coupon"],
            influencer_id=coupon.influencer_id,
            campaign_id=coupon.campaign_id,
            link_id=None,
            coupon_id=coupon.coupon_id,
            code=coupon.code,
        )
    if ref_code and ref_code.strip():
        link = links.get(ref_code.strip().lower())
        if link is not None and _link_counts(link):
            return _from_link(link, "ref_code", CONFIDENCE["ref_code"], None)
    ordered = sorted(touches, key=lambda t: (t.started_at, t.session_id), reverse=touch == "last")
    for candidate in ordered:
        landing, referrer = ref_codes_of(candidate)
        for codes, confidence in ((landing, CONFIDENCE["landing_url"]), (referrer, CONFIDENCE["referrer"])):
            for code in codes:
                link = links.get(code)
                if link is not None and _link_counts(link):
                    return _from_link(link, "landing_url", confidence, candidate.session_id)
    return None


def _from_link(link: LinkMatch, method: Method, confidence: float, session_id: str | None) -> InfluencerCredit:
    return InfluencerCredit(
        method=method,
        confidence=confidence,
        influencer_id=link.influencer_id,
        campaign_id=link.campaign_id,
        link_id=link.link_id,
        coupon_id=None,
        code=link.code,
        session_id=session_id,
    )
