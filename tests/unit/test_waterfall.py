from __future__ import annotations

from datetime import UTC, datetime, timedelta

from multibuzz.domain.waterfall import (
    CONFIDENCE,
    CouponMatch,
    LinkMatch,
    TouchRef,
    candidate_ref_codes,
    decide,
)

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
ANNA = LinkMatch(link_id="lnk_anna", code="annacode", influencer_id="inf_anna", campaign_id="cmp_1")
BEN = LinkMatch(link_id="lnk_ben", code="bencode2", influencer_id="inf_ben", campaign_id="cmp_1")
LINKS = {"annacode": ANNA, "bencode2": BEN}


def touch(sid: str, landing: str | None, referrer: str | None = None, hours: int = 0) -> TouchRef:
    return TouchRef(sid, landing, referrer, T0 + timedelta(hours=hours))


def coupon(influencer: str | None, *, active: bool = True, source: str = "links_and_coupons") -> CouponMatch:
    return CouponMatch("cpn_1", "BEN10", influencer, "cmp_1", active=active, campaign_source=source)


def test_influencer_coupon_wins_over_a_different_ref_code() -> None:
    credit = decide(
        coupon=coupon("inf_ben"),
        ref_code="annacode",
        touches=[touch("s1", "https://shop.example/?ref_code=annacode")],
        links=LINKS,
    )
    assert credit is not None
    assert (credit.method, credit.influencer_id, credit.confidence) == ("coupon", "inf_ben", 1.0)
    assert (credit.coupon_id, credit.link_id, credit.code) == ("cpn_1", None, "BEN10")


def test_generic_coupon_falls_through_to_the_ref_code_in_the_landing_url() -> None:
    credit = decide(
        coupon=coupon(None),
        ref_code=None,
        touches=[touch("s1", "https://shop.example/p?utm_source=x&ref_code=AnnaCode#top")],
        links=LINKS,
    )
    assert credit is not None
    assert (credit.method, credit.influencer_id, credit.link_id) == ("landing_url", "inf_anna", "lnk_anna")
    assert credit.confidence == CONFIDENCE["landing_url"] and credit.session_id == "s1"


def test_invalidated_coupon_does_not_count() -> None:
    credit = decide(coupon=coupon("inf_ben", active=False), ref_code="annacode", touches=[], links=LINKS)
    assert credit is not None and (credit.method, credit.influencer_id) == ("ref_code", "inf_anna")
    assert credit.confidence == 0.9


def test_explicit_ref_code_beats_touches_and_unknown_codes_fall_through() -> None:
    touches = [touch("s1", "https://shop.example/?ref_code=bencode2")]
    assert decide(coupon=None, ref_code="ANNACODE", touches=touches, links=LINKS).influencer_id == "inf_anna"  # type: ignore[union-attr]
    fallen = decide(coupon=None, ref_code="nosuchcd", touches=touches, links=LINKS)
    assert fallen is not None and (fallen.method, fallen.influencer_id) == ("landing_url", "inf_ben")


def test_first_touch_wins_by_default_and_landing_beats_referrer_within_a_touch() -> None:
    touches = [
        touch("new", "https://shop.example/", "https://blog.example/post?ref_code=bencode2", hours=5),
        touch("old", "https://shop.example/?ref_code=annacode", hours=0),
    ]
    credit = decide(coupon=None, ref_code=None, touches=touches, links=LINKS)
    assert credit is not None and (credit.influencer_id, credit.session_id) == ("inf_anna", "old"), "seed 002: first"
    assert credit.confidence == CONFIDENCE["landing_url"]
    both = [touch("s", "https://shop.example/?ref_code=annacode", "https://x.example/?ref_code=bencode2")]
    assert decide(coupon=None, ref_code=None, touches=both, links=LINKS).influencer_id == "inf_anna"  # type: ignore[union-attr]


def test_the_account_may_ask_for_the_most_recent_touch() -> None:
    touches = [
        touch("old", "https://shop.example/?ref_code=annacode", hours=0),
        touch("new", "https://shop.example/", "https://blog.example/post?ref_code=bencode2", hours=5),
        touch("unknown", "https://shop.example/?ref_code=nosuchcd", hours=9),
    ]
    last = decide(coupon=None, ref_code=None, touches=touches, links=LINKS, touch="last")
    assert last is not None and (last.influencer_id, last.session_id) == ("inf_ben", "new")
    assert last.confidence == CONFIDENCE["referrer"]
    first = decide(coupon=None, ref_code=None, touches=touches, links=LINKS, touch="first")
    assert first is not None and first.session_id == "old"


def test_influencer_touch_setting() -> None:
    from multibuzz.domain.waterfall import influencer_touch_of

    assert influencer_touch_of(None) == "first"
    assert influencer_touch_of({}) == "first"
    assert influencer_touch_of({"influencer_touch": "last"}) == "last"
    assert influencer_touch_of({"influencer_touch": "LAST"}) == "first", "only the validated values count"


def test_nothing_matches() -> None:
    assert decide(coupon=None, ref_code=None, touches=[], links=LINKS) is None
    assert decide(coupon=coupon(None), ref_code=None, touches=[touch("s", "https://shop.example/")], links={}) is None
    assert decide(coupon=None, ref_code="", touches=[touch("s", None, None)], links=LINKS) is None


def test_campaign_attribution_source_limits_what_earns_credit() -> None:
    links_only = coupon("inf_ben", source="links")
    credit = decide(coupon=links_only, ref_code="annacode", touches=[], links=LINKS)
    assert credit is not None and credit.method == "ref_code"
    coupons_only = {"annacode": LinkMatch("lnk_anna", "annacode", "inf_anna", "cmp_2", campaign_source="coupons")}
    assert decide(coupon=None, ref_code="annacode", touches=[], links=coupons_only) is None


def test_candidate_codes_come_from_ref_code_landing_urls_and_referrers() -> None:
    touches = [
        touch("a", "https://shop.example/?REF_CODE=One1", "https://go.example/r/Two2?x=1"),
        touch("b", "not a url at all", "https://blog.example/?ref_code=three3"),
    ]
    assert candidate_ref_codes(" Four4 ", touches) == {"one1", "two2", "three3", "four4"}
