"""The demo traffic plan: deterministic, inside the ingestion API's time bounds, across channels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from multibuzz.demo import traffic

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
CAMPAIGNS = [traffic.MetaCampaign("700190001", "Spring Sale")]


def _plan(seed: int = 13, days: int = 30) -> traffic.Plan:
    return traffic.plan(
        seed=seed,
        now=NOW,
        days=days,
        visitors_per_day=20,
        meta_campaigns=CAMPAIGNS,
        link_codes=["abc123"],
        coupon_codes=["RIA15"],
    )


def test_same_seed_same_plan_other_seed_other_plan() -> None:
    assert _plan() == _plan()
    assert _plan().journeys[0].visitor_id != _plan(seed=14).journeys[0].visitor_id


def test_every_moment_lies_in_the_last_days_before_now() -> None:
    plan = _plan(days=30)
    moments = [v.started_at for j in plan.journeys for v in j.visits]
    moments += [j.purchase.at for j in plan.journeys if j.purchase]
    assert min(moments) >= NOW - timedelta(days=30) and max(moments) < NOW
    assert max(moments) - min(moments) > timedelta(days=28)  # spread over the whole range


def test_ids_are_unique_and_fit_the_wire_format() -> None:
    plan = _plan()
    sessions = [v.session_id for j in plan.journeys for v in j.visits]
    assert len(set(sessions)) == len(sessions)
    assert len({j.visitor_id for j in plan.journeys}) == len(plan.journeys)
    assert all(len(s) == 64 for s in sessions)


def test_channels_campaigns_clicks_and_coupon_sales() -> None:
    plan = _plan()
    visits = [v for j in plan.journeys for v in j.visits]
    assert {v.source for v in visits} == {k for k, _ in traffic.SOURCES}
    social = [parse_qs(urlsplit(v.url).query) for v in visits if v.source == "paid_social"]
    assert all(q["utm_id"] == ["700190001"] and q["utm_campaign"] == ["Spring Sale"] for q in social)
    assert all(v.link_code == "abc123" for v in visits if v.source == "influencer")
    purchases = [j.purchase for j in plan.journeys if j.purchase]
    assert purchases and any(p.coupon_code == "RIA15" for p in purchases)
    assert any(p.coupon_code is None for p in purchases)


def test_visitors_use_several_browsers() -> None:
    assert {j.user_agent for j in _plan().journeys} == set(traffic.USER_AGENTS)
