"""Reports end to end: real HTTP ingestion and redirects, the real consumer keeping the rollups, the stats API.

One seeded scenario (three influencer-side journeys, a coupon, a direct buyer, a funnel), checked against
hand counts and raw rows: overview = Σ per-influencer = Σ per-campaign; channel totals per model = revenue;
funnel = hand count; commission = hand computation; influencer users see only their own numbers; the
rollups the consumer kept equal a rebuild from raw rows, and a redelivered message changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from multibuzz.adapters.queue.base import OutgoingMessage
from multibuzz.bootstrap import Container
from multibuzz.consumers.envelope import Envelope
from multibuzz.db.models import Event
from multibuzz.db.models.influencer import Click
from multibuzz.db.models.reports import ReportBucket, ReportRollup
from multibuzz.domain.attribution import MODELS
from multibuzz.redirect.cache import link_cache
from multibuzz.reports.maintain import rebuild
from sqlalchemy import func, select

from functions.redirect.handler import lambda_handler as redirect_handler
from infra.local.dispatch import deliver_once, load_handler
from tests.conftest import Api, Tenant

ZONE = "Asia/Tokyo"


@pytest.fixture(autouse=True)
def _no_lookup_grace(container: Container) -> None:
    object.__setattr__(container.settings, "conversion_lookup_grace_seconds", 0.0)
    object.__setattr__(container.settings, "reports_refresh_min_seconds", 0.0)  # rebuild after every batch


@pytest.fixture(autouse=True)
def _fresh_link_cache() -> None:
    link_cache.clear()


def drain(container: Container) -> None:
    redirect_handler.flush()  # the local runner group-commits clicks every few milliseconds
    handler = load_handler("attribution")
    while sum(deliver_once(container.local_queue, q, handler, batch_size=10).received for q in ("ingest", "clicks")):
        pass


def at(seconds_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat()


@dataclass
class World:
    tenant: Tenant
    anna: str
    ben: str
    spring: str
    summer: str
    anna_link: str
    ben_link: str
    today: date


def _post(api: Api, token: str, path: str, body: dict[str, Any], expect: int = 201) -> dict[str, Any]:
    response = api.client.post(path, json=body, headers=api.auth(token))
    assert response.status_code == expect, response.text
    return dict(response.json())


def _land(api: Api, tenant: Tenant, visitor: str, url: str, referrer: str | None = None) -> None:
    session: dict[str, Any] = {"visitor_id": visitor, "url": url, "started_at": at(120), "user_agent": "Mozilla/5.0"}
    if referrer:
        session["referrer"] = referrer
    _post(api, tenant.api_key, "/api/v1/sessions", {"session": session}, 202)


def _click(api: Api, code: str, user_agent: str) -> str:
    redirect = api.client.get(f"/r/{code}", headers={"user-agent": user_agent})
    assert redirect.status_code == 302, redirect.text
    return str(redirect.headers["location"])


def _events(api: Api, tenant: Tenant, *events: dict[str, Any]) -> None:
    _post(api, tenant.api_key, "/api/v1/events", {"events": list(events)}, 202)


def _step(visitor: str, position: int, step: str, seconds_ago: float) -> dict[str, Any]:
    properties = {"funnel": "checkout", "funnel_step": step, "funnel_position": position}
    return {"event_type": "page_view", "visitor_id": visitor, "timestamp": at(seconds_ago), "properties": properties}


def _buy(api: Api, tenant: Tenant, visitor: str, value: str, **extra: Any) -> None:
    _post(
        api,
        tenant.api_key,
        "/api/v1/events",
        {"action": "purchase", "visitor_id": visitor, "value": value, "timestamp": at(10), **extra},
        202,
    )


def seed(api: Api, container: Container) -> World:
    tenant = api.tenant("Reports shop")
    owner = tenant.owner_token
    settings = api.client.patch(
        f"/api/v1/accounts/{tenant.account_id}/settings", json={"timezone": ZONE}, headers=api.auth(owner)
    )
    assert settings.status_code == 200, settings.text
    spring = _post(
        api, owner, "/api/v1/campaigns", {"name": "Spring", "default_destination_url": "https://shop.example/"}
    )
    summer = _post(
        api, owner, "/api/v1/campaigns", {"name": "Summer", "default_destination_url": "https://shop.example/"}
    )
    anna = _post(api, owner, "/api/v1/influencers", {"name": "Anna", "handle": "anna"})
    ben = _post(api, owner, "/api/v1/influencers", {"name": "Ben", "handle": "ben"})
    _post(api, owner, f"/api/v1/campaigns/{spring['id']}/influencers", {"influencer_id": anna["id"]})
    _post(api, owner, f"/api/v1/campaigns/{summer['id']}/influencers", {"influencer_id": ben["id"]})
    anna_link = _post(api, owner, "/api/v1/links", {"campaign_id": spring["id"], "influencer_id": anna["id"]})
    ben_link = _post(api, owner, "/api/v1/links", {"campaign_id": summer["id"], "influencer_id": ben["id"]})
    _post(api, owner, "/api/v1/coupons", {"code": "BEN10", "campaign_id": summer["id"], "influencer_id": ben["id"]})
    # Commission: Spring 10 % of revenue; Summer 5.00 per conversion, Ben's assignment overrides with 7.00.
    for body, campaign in (
        ({"kind": "rate", "value": "0.1"}, spring),
        ({"kind": "fixed", "value": "5"}, summer),
        ({"kind": "fixed", "value": "7", "influencer_id": ben["id"]}, summer),
    ):
        response = api.client.put(f"/api/v1/campaigns/{campaign['id']}/commission", json=body, headers=api.auth(owner))
        assert response.status_code == 200, response.text

    v1, v2, v3, v4 = ("a" * 64, "b" * 64, "c" * 64, "d" * 64)
    # v1: Anna's link (clicked twice by the same browser), the funnel to step 2, buys 100 → Anna / Spring.
    landing = _click(api, anna_link["code"], "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)")
    _click(api, anna_link["code"], "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)")
    _land(api, tenant, v1, landing, "https://www.instagram.com/")
    _events(api, tenant, _step(v1, 1, "cart", 90), _step(v1, 2, "pay", 60))
    _buy(api, tenant, v1, "100")
    # v2: organic search, funnel step 1, buys 40 with Ben's coupon → Ben / Summer.
    _land(api, tenant, v2, "https://shop.example/", "https://www.google.com/search?q=shoes")
    _events(api, tenant, _step(v2, 1, "cart", 90))
    _buy(api, tenant, v2, "40", coupon_code="BEN10")
    # v3: direct, buys 25.50 → no influencer.
    _land(api, tenant, v3, "https://shop.example/")
    _events(api, tenant, {"event_type": "signup", "visitor_id": v3, "timestamp": at(60)})
    _buy(api, tenant, v3, "25.50")
    # v4: Ben's link, the whole funnel, no purchase.
    landing = _click(api, ben_link["code"], "Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
    _land(api, tenant, v4, landing, "https://www.tiktok.com/")
    _events(api, tenant, _step(v4, 1, "cart", 90), _step(v4, 2, "pay", 80), _step(v4, 3, "done", 70))
    drain(container)
    today = datetime.now(ZoneInfo(ZONE)).date()
    return World(tenant, anna["id"], ben["id"], spring["id"], summer["id"], anna_link["id"], ben_link["id"], today)


def get(api: Api, token: str, path: str, **params: Any) -> dict[str, Any]:
    response = api.client.get(path, params=params, headers=api.auth(token))
    assert response.status_code == 200, response.text
    body = response.json()
    return dict(body)


def rollups(container: Container, account_id: str) -> list[tuple[Any, ...]]:
    with container.session() as session:
        rows = session.execute(
            select(
                ReportRollup.grain,
                ReportRollup.day,
                ReportRollup.hour,
                ReportRollup.dimension,
                ReportRollup.dim_value,
                ReportRollup.metric,
                ReportRollup.sub_key,
                ReportRollup.value,
            ).where(ReportRollup.account_id == account_id)
        ).all()
    return sorted(tuple(r) for r in rows)


def test_overview_equals_the_sums_of_per_influencer_and_per_campaign_and_the_hand_counts(
    api: Api, container: Container
) -> None:
    w = seed(api, container)
    token = w.tenant.owner_token
    span = {"from": (w.today - timedelta(days=1)).isoformat(), "to": w.today.isoformat()}
    overview = get(api, token, "/api/v1/stats/overview", **span)
    assert (overview["timezone"], overview["currency"]) == (ZONE, "USD")
    current = overview["current"]
    with container.session() as session:
        human_clicks = session.scalar(select(func.count()).select_from(Click).where(Click.is_bot.is_(False)))
        unique = session.scalar(select(func.count()).select_from(Click).where(Click.unique_click.is_(True)))
        by_type = dict(session.execute(select(Event.event_type, func.count()).group_by(Event.event_type)).all())
    assert human_clicks == 3
    assert (current["clicks"], current["unique_clicks"]) == (3, unique)
    assert (current["conversions"], current["revenue"], current["sessions"], current["visitors"]) == (3, "165.50", 4, 4)
    assert current["events"] == by_type and by_type["purchase"] == 3
    assert current["aov"] == "55.17" and current["conversion_rate"] == "0.7500"
    assert current["commission"] == "17.00"  # Anna 10 % of 100 + Ben's override 7.00 x 1
    assert overview["previous"]["conversions"] == 0 and overview["previous"]["revenue"] == "0.00"

    people = get(api, token, "/api/v1/stats/per-influencer", **span)["data"]
    campaigns = get(api, token, "/api/v1/stats/per-campaign", **span)["data"]
    for rows in (people, campaigns):
        assert sum(r["clicks"] for r in rows) == current["clicks"]
        assert sum(r["conversions"] for r in rows) == current["conversions"]
        assert sum(Decimal(r["revenue"]) for r in rows) == Decimal(current["revenue"])
        assert sum(Decimal(r["commission"]) for r in rows) == Decimal("17.00")
    anna = next(r for r in people if r["influencer_id"] == w.anna)
    ben = next(r for r in people if r["influencer_id"] == w.ben)
    nobody = next(r for r in people if r["influencer_id"] is None)
    assert (anna["name"], anna["clicks"], anna["conversions"], anna["revenue"], anna["commission"]) == (
        "Anna",
        2,
        1,
        "100.00",
        "10.00",
    )
    assert (ben["clicks"], ben["conversions"], ben["revenue"], ben["commission"]) == (1, 1, "40.00", "7.00")
    assert (nobody["conversions"], nobody["revenue"], nobody["commission"], nobody["roi"]) == (1, "25.50", "0.00", None)
    spring = next(r for r in campaigns if r["campaign_id"] == w.spring)
    assert (spring["revenue"], spring["commission"], spring["roi"]) == ("100.00", "10.00", "9.0000")

    # Channels: every model's credited revenue adds up to the revenue (participation may exceed it).
    channels = get(api, token, "/api/v1/stats/channels", model="all", **span)
    assert channels["models"] == list(MODELS)
    for model, total in channels["totals"].items():
        if model != "participation":
            assert Decimal(total["revenue"]) == Decimal("165.50"), model
            assert Decimal(total["conversions"]) == 3, model
            assert sum(Decimal(c["models"][model]["revenue"]) for c in channels["data"]) == Decimal("165.50")
    assert sum(c["sessions"] for c in channels["data"]) == 4
    one = get(api, token, "/api/v1/stats/channels", model="last_touch", **span)
    assert one["models"] == ["last_touch"] and one["totals"]["last_touch"]["revenue"] == "165.50"

    # Funnel: hand count of sessions reaching each position (v1: 1-2, v2: 1, v4: 1-2-3).
    funnel = get(api, token, "/api/v1/funnels/checkout", split="channel", **span)
    steps = [(s["position"], s["step"], s["sessions"], s["rate_from_previous"], s["drop_off"]) for s in funnel["steps"]]
    assert steps == [(1, "cart", 3, None, None), (2, "pay", 2, "0.6667", 1), (3, "done", 1, "0.5000", 1)]
    assert sum(c["steps"][0]["sessions"] for c in funnel["by_channel"]) == 3

    # Chart: the series adds up to the overview; hourly too (48 points over two days).
    for granularity, points in (("day", 2), ("hour", 48)):
        chart = get(api, token, "/api/v1/stats/chart", granularity=granularity, **span)
        assert len(chart["series"]) == points
        assert sum(p["clicks"] for p in chart["series"]) == 3
        assert sum(Decimal(p["revenue"]) for p in chart["series"]) == Decimal("165.50")


def test_empty_ranges_previous_period_and_bad_input(api: Api, container: Container) -> None:
    w = seed(api, container)
    token = w.tenant.owner_token
    later = {"from": (w.today + timedelta(days=1)).isoformat(), "to": (w.today + timedelta(days=2)).isoformat()}
    overview = get(api, token, "/api/v1/stats/overview", **later)
    assert overview["current"]["clicks"] == 0 and overview["current"]["revenue"] == "0.00"
    assert overview["current"]["events"] == {} and overview["current"]["aov"] == "0.00"
    assert overview["previous"]["conversions"] == 3 and overview["previous"]["revenue"] == "165.50"
    chart = get(api, token, "/api/v1/stats/chart", **later)
    assert [p["revenue"] for p in chart["series"]] == ["0.00", "0.00"]
    assert get(api, token, "/api/v1/stats/per-influencer", **later)["data"] == []
    assert get(api, token, "/api/v1/funnels/nothing-here")["steps"] == []
    for params, field in (
        ({"model": "best_guess"}, "model"),
        ({"from": "2026-02-02", "to": "2026-01-01"}, "from"),
        ({"granularity": "hour", "from": (w.today - timedelta(days=30)).isoformat()}, "granularity"),
    ):
        path = "/api/v1/stats/channels" if "model" in params else "/api/v1/stats/chart"
        response = api.client.get(path, params=params, headers=api.auth(token))
        assert response.status_code == 422, response.text
        assert field in response.text


def test_influencer_users_see_only_their_own_numbers(api: Api, container: Container) -> None:
    w = seed(api, container)
    anna = api.add_member(w.tenant, "anna@creators.test", "influencer", influencer_id=w.anna)
    ben = api.add_member(w.tenant, "ben@creators.test", "influencer", influencer_id=w.ben)
    span = {"from": (w.today - timedelta(days=1)).isoformat(), "to": w.today.isoformat()}
    mine = get(api, anna, "/api/v1/influencer/stats/overview", **span)
    assert (mine["influencer_id"], mine["clicks"], mine["conversions"], mine["sales"], mine["commission"]) == (
        w.anna,
        2,
        1,
        "100.00",
        "10.00",
    )
    assert [c["id"] for c in mine["campaigns"]] == [w.spring]
    assert [x["id"] for x in mine["links"]] == [w.anna_link] and mine["coupons"] == []
    assert w.ben not in str(mine) and w.ben_link not in str(mine) and "BEN10" not in str(mine)
    his = get(api, ben, "/api/v1/influencer/stats/overview", **span)
    assert (his["sales"], his["commission"], [c["code"] for c in his["coupons"]]) == ("40.00", "7.00", ["BEN10"])
    chart = get(api, anna, "/api/v1/influencer/stats/chart", **span)
    assert sum(Decimal(p["revenue"]) for p in chart["series"]) == Decimal("100.00")
    # An influencer never reads the account's stats; the owner has no influencer view; keys read nothing.
    for path in ("/api/v1/stats/overview", "/api/v1/stats/per-influencer", "/api/v1/funnels/checkout"):
        assert api.client.get(path, headers=api.auth(anna)).status_code == 403
    assert (
        api.client.get("/api/v1/influencer/stats/overview", headers=api.auth(w.tenant.owner_token)).status_code == 403
    )
    assert api.client.get("/api/v1/stats/overview", headers=api.auth(w.tenant.api_key)).status_code == 403
    # Commission rules: an influencer may not write them.
    response = api.client.put(
        f"/api/v1/campaigns/{w.spring}/commission", json={"kind": "rate", "value": "0.9"}, headers=api.auth(anna)
    )
    assert response.status_code == 403


def test_incremental_rollups_equal_a_rebuild_and_redelivery_changes_nothing(api: Api, container: Container) -> None:
    w = seed(api, container)
    account = w.tenant.account_id
    kept = rollups(container, account)
    assert kept, "the consumer kept rollups"
    with container.session() as session:
        stale = session.scalar(
            select(func.count())
            .select_from(ReportBucket)
            .where(ReportBucket.account_id == account, ReportBucket.generation != ReportBucket.built_generation)
        )
        click = session.scalars(select(Click).where(Click.account_id == account)).first()
        assert click is not None
        payload = {
            "click_id": click.id,
            "link_id": click.link_id,
            "occurred_at": click.occurred_at.isoformat(),
            "method": "GET",
            "user_agent": click.user_agent,
            "visitor_hash": click.visitor_hash,
        }
    assert stale == 0
    # A redelivered click message (same click id): applied once; the rollups do not move.
    envelope = Envelope(kind="click.record", id=f"clk_{click.id}", account_id=account, payload=payload)
    container.local_queue.send_batch("clicks", [OutgoingMessage(envelope.dumps())])
    drain(container)
    assert rollups(container, account) == kept
    # The rebuild from raw rows gives exactly the rows the consumer kept.
    with container.session() as session:
        session.execute(ReportRollup.__table__.delete().where(ReportRollup.account_id == account))
        session.commit()
    assert rollups(container, account) == []
    rebuild(container.session_factory, container.clock.now(), account, w.today - timedelta(days=2), w.today)
    assert rollups(container, account) == kept


def test_without_the_consumer_refresh_the_schedule_rebuilds_the_stale_days(api: Api, container: Container) -> None:
    from multibuzz import topology

    from infra.local.scheduler import fire

    object.__setattr__(container.settings, "reports_refresh_in_consumer", False)
    w = seed(api, container)
    token = w.tenant.owner_token
    span = {"from": (w.today - timedelta(days=1)).isoformat(), "to": w.today.isoformat()}
    assert get(api, token, "/api/v1/stats/overview", **span)["current"]["conversions"] == 0, "nothing rebuilt yet"
    schedule = next(s for f in topology.FUNCTIONS for s in f.schedules if s.name == "reports-refresh")
    result = fire("sync", schedule)
    assert result["job"] == "multibuzz.reports_refresh" and result["result"]["days_rebuilt"] >= 1
    current = get(api, token, "/api/v1/stats/overview", **span)["current"]
    assert (current["clicks"], current["conversions"], current["revenue"]) == (3, 3, "165.50")
    assert fire("sync", schedule)["result"]["days_rebuilt"] == 0, "nothing stale any more"


def test_a_day_rebuilt_moments_ago_waits_for_the_schedule_when_the_consumer_is_throttled(
    container: Container,
) -> None:
    from multibuzz.reports.maintain import refresh
    from multibuzz.reports.store import mark_days
    from multibuzz.services.tenancy import Tenancy

    with container.session() as session:
        account = Tenancy(session, container.clock, container.ids, container.secret_box).create_account(None, "Busy")
        session.commit()
    now = container.clock.now()
    day = now.date()
    for expected_after_throttled in (1, 0):  # the first rebuild is never throttled (never built); the next is
        with container.session() as session:
            mark_days(session, account.id, [day])
            session.commit()
        assert refresh(container.session_factory, now, [account.id], min_seconds=3600) == expected_after_throttled
    assert refresh(container.session_factory, now, [account.id]) == 1, "the schedule (no throttle) rebuilds it"
    with container.session() as session:
        bucket = session.get(ReportBucket, (account.id, day))
        assert bucket is not None and bucket.generation == bucket.built_generation == 2
