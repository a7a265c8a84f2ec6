"""Meta over HTTP, through the real local gateway: connecting an ad account (owners only, currency checked,
token never echoed) and the three dashboards, whose numbers come from the synced fake Graph API data
and from attribution credits matched to Meta campaigns by utm_id / utm_campaign."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from multibuzz.bootstrap import Container, use_container
from multibuzz.clock import FixedClock
from multibuzz.commerce.fakes.meta import FakeMeta, day_metrics
from multibuzz.commerce.meta.sync import sync_all
from multibuzz.db.models import AttributionCredit, Conversion, Visitor, VisitSession
from multibuzz.db.models.commerce import DailyShopifyMetrics
from multibuzz.domain.attribution.types import MODELS
from sqlalchemy import Engine

from tests.conftest import Api, Tenant, make_settings

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
TODAY = dt.date(2026, 3, 15)
WEEK_AGO = TODAY - dt.timedelta(days=6)
TOKEN = "EAAB-fake-token-http-01"


@pytest.fixture
def fake() -> Iterator[FakeMeta]:
    meta = FakeMeta(async_polls=1)
    account = meta.add_account("act_2002", TOKEN, currency="EUR", name="Shop ads", timezone_name="Europe/Berlin")
    account.add_ads(4, campaigns=2, statuses=("ACTIVE", "PAUSED"))
    meta.add_account("act_3003", "EAAB-usd-token-0001", currency="USD")
    meta.serve()
    yield meta
    meta.close()


@pytest.fixture
def container(tmp_path: Path, database_url: str, db_clean: Engine, fake: FakeMeta) -> Iterator[Container]:
    settings = make_settings(tmp_path, database_url, meta_graph_url=f"{fake.url}/v21.0")
    c = Container(settings, clock=FixedClock(NOW), engine=db_clean)
    use_container(c)
    yield c
    use_container(None)
    c.local_queue.close()


def _euro_tenant(api: Api, name: str) -> Tenant:
    tenant = api.tenant(name)
    patched = api.client.patch(
        f"/api/v1/accounts/{tenant.account_id}/settings",
        json={"currency": "EUR", "timezone": "Europe/Berlin"},
        headers=api.auth(tenant.owner_token),
    )
    assert patched.status_code == 200, patched.text
    return tenant


def test_connect_over_http_owner_only_currency_checked_token_never_returned(api: Api, fake: FakeMeta) -> None:
    tenant = _euro_tenant(api, "Meta Connect")
    member = api.add_member(tenant, "member@meta-connect.test", "member")
    body = {"ad_account_id": "act_2002", "access_token": TOKEN}
    refused = api.client.post("/api/v1/integrations/meta", json=body, headers=api.auth(member))
    assert refused.status_code == 403

    wrong = api.client.post(
        "/api/v1/integrations/meta",
        json={"ad_account_id": "3003", "access_token": "EAAB-usd-token-0001"},
        headers=api.auth(tenant.owner_token),
    )
    assert wrong.status_code == 422, wrong.text
    assert wrong.json()["errors"][0]["field"] == "ad_account_id"
    assert "reports spend in USD but this account reports in EUR" in wrong.json()["message"]

    bad = api.client.post(
        "/api/v1/integrations/meta",
        json={**body, "access_token": "EAAB-not-valid"},
        headers=api.auth(tenant.owner_token),
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "access_token"

    malformed = api.client.post(
        "/api/v1/integrations/meta", json={**body, "ad_account_id": "act_x"}, headers=api.auth(tenant.owner_token)
    )
    assert malformed.status_code == 422 and malformed.json()["errors"][0]["field"].endswith("ad_account_id")

    made = api.client.post("/api/v1/integrations/meta", json=body, headers=api.auth(tenant.owner_token))
    assert made.status_code == 201, made.text
    out = made.json()
    assert out["external_id"] == "act_2002" and out["currency"] == "EUR" and out["status"] == "connected"
    assert out["warnings"] == []  # same zone as the account
    assert TOKEN not in made.text
    key = api.client.post("/api/v1/integrations/meta", json=body, headers=api.auth(tenant.api_key))
    assert key.status_code == 401

    utc = api.tenant("Meta Utc")  # EUR, but days counted in UTC
    assert (
        api.client.patch(
            f"/api/v1/accounts/{utc.account_id}/settings", json={"currency": "EUR"}, headers=api.auth(utc.owner_token)
        ).status_code
        == 200
    )
    warned = api.client.post("/api/v1/integrations/meta", json=body, headers=api.auth(utc.owner_token))
    assert warned.status_code == 201, warned.text
    assert len(warned.json()["warnings"]) == 1 and "Europe/Berlin" in warned.json()["warnings"][0]


def _seed_attribution(container: Container, account_id: str) -> None:
    """Two conversions today: journeys through Campaign 1 (by utm_id) and Campaign 2 (by utm_campaign)."""
    at = NOW - dt.timedelta(hours=1)
    with container.session() as session:
        session.add(
            Visitor(id="vis_m1", account_id=account_id, visitor_key="m" * 64, first_seen_at=at, last_seen_at=at)
        )
        session.flush()
        for sid, url, campaign in (
            ("ses_m1", "https://shop.example/?utm_source=facebook&utm_id=200290000&utm_campaign=spring", "spring"),
            ("ses_m2", "https://shop.example/?utm_source=facebook&utm_campaign=CAMPAIGN%202", "CAMPAIGN 2"),
        ):
            session.add(
                VisitSession(
                    id=sid,
                    account_id=account_id,
                    visitor_id="vis_m1",
                    started_at=at,
                    last_activity_at=at,
                    landing_url=url,
                    utm_source="facebook",
                    utm_campaign=campaign,
                    channel="paid_social",
                    created_at=at,
                )
            )
        for cid, currency, revenue in (("conv_m1", "EUR", "100.00"), ("conv_usd", "USD", "999.00")):
            session.add(
                Conversion(
                    id=cid,
                    account_id=account_id,
                    conversion_type="purchase",
                    visitor_id="vis_m1",
                    occurred_at=at,
                    received_at=at,
                    revenue=Decimal(revenue),
                    currency=currency,
                    properties={},
                    status="attributed",
                    attribution_version=2,
                )
            )
        session.flush()
        credits = [  # (conversion, version, model, position, session, utm_campaign, revenue)
            ("conv_m1", 2, "last_touch", 0, "ses_m1", "spring", "100.00"),
            ("conv_m1", 2, "linear", 0, "ses_m1", "spring", "50.00"),
            ("conv_m1", 2, "linear", 1, "ses_m2", "CAMPAIGN 2", "50.00"),
            ("conv_m1", 1, "last_touch", 0, "ses_m2", "CAMPAIGN 2", "100.00"),  # an old version: ignored
            ("conv_usd", 2, "last_touch", 0, "ses_m1", "spring", "999.00"),  # another currency: ignored
        ]
        for conversion, version, model, position, sid, utm_campaign, revenue in credits:
            session.add(
                AttributionCredit(
                    account_id=account_id,
                    conversion_id=conversion,
                    version=version,
                    model=model,
                    position=position,
                    session_id=sid,
                    channel="paid_social",
                    utm_campaign=utm_campaign,
                    touch_at=at,
                    credit=Decimal("0.5") if model == "linear" else Decimal(1),
                    revenue_credit=Decimal(revenue),
                )
            )
        session.commit()


def _spend(fake: FakeMeta, campaign_id: str | None = None) -> tuple[Decimal, Decimal]:
    spend = value = Decimal(0)
    for ad in fake.accounts["2002"].ads:
        if campaign_id and ad.campaign_id != campaign_id:
            continue
        for i in range(7):
            m = day_metrics(ad.ad_id, WEEK_AGO + dt.timedelta(days=i))
            spend += Decimal(m["spend"])
            value += Decimal(m["purchase_value"])
    return spend, value


def test_dashboards_show_synced_spend_revenue_and_attributed_roas_per_campaign(
    api: Api, container: Container, fake: FakeMeta
) -> None:
    tenant = _euro_tenant(api, "Meta Dash")
    made = api.client.post(
        "/api/v1/integrations/meta",
        json={"ad_account_id": "act_2002", "access_token": TOKEN},
        headers=api.auth(tenant.owner_token),
    )
    assert made.status_code == 201, made.text
    assert made.json()["warnings"] == []
    assert sync_all(container, {}, sleep=lambda _s: None, rng=random.Random(1))["results"][0]["status"] == "succeeded"
    with container.session() as session:  # what the Shopify sync writes (h/shopify): two days of orders
        for day, orders, net in ((TODAY, 2, "150.00"), (WEEK_AGO, 1, "40.50")):
            session.add(
                DailyShopifyMetrics(
                    account_id=tenant.account_id,
                    integration_id=made.json()["id"],
                    date=day,
                    currency="EUR",
                    orders=orders,
                    cancelled_orders=0,
                    gross=Decimal(net),
                    discounts=Decimal(0),
                    refunds=Decimal("0"),
                    revenue_net=Decimal(net),
                    updated_at=NOW,
                )
            )
        session.commit()
    from multibuzz.commerce import aggregates

    with container.session() as session:
        aggregates.rebuild_after_shopify(session, tenant.account_id, WEEK_AGO, TODAY, NOW)
        session.commit()
    _seed_attribution(container, tenant.account_id)
    params = {"from": WEEK_AGO.isoformat(), "to": TODAY.isoformat()}
    auth = api.auth(tenant.owner_token)
    total_spend, total_value = _spend(fake)

    home = api.client.get("/api/v1/dashboard/home", params=params, headers=auth)
    assert home.status_code == 200, home.text
    h = home.json()
    assert (h["timezone"], h["currency"], h["from"], h["to"]) == ("Europe/Berlin", "EUR", params["from"], params["to"])
    assert h["kpis"]["revenue_net"] == "190.50" and h["kpis"]["orders"] == 3 and h["kpis"]["aov"] == "63.50"
    assert h["kpis"]["spend"] == f"{total_spend:.2f}" and h["kpis"]["purchase_value"] == f"{total_value:.2f}"
    assert h["kpis"]["mer"] == f"{(Decimal('190.50') / total_spend).quantize(Decimal('0.0001'))}"
    assert len(h["series"]) == 7 and h["series"][-1]["revenue_net"] == "150.00" and h["series"][1]["orders"] == 0
    today = h["latest"]["today"]
    assert (today["from"], today["revenue_net"], today["orders"]) == (TODAY.isoformat(), "150.00", 2)
    assert h["latest"]["last_7d"]["spend"] == h["kpis"]["spend"] and h["latest"]["last_30d"]["revenue_net"] == "190.50"

    shop = api.client.get("/api/v1/dashboard/shopify", params=params, headers=auth).json()
    assert shop["kpis"]["revenue_net"] == "190.50" and shop["kpis"]["orders"] == 3 and shop["currency"] == "EUR"

    meta = api.client.get("/api/v1/dashboard/meta", params=params, headers=auth)
    assert meta.status_code == 200, meta.text
    m = meta.json()
    assert m["kpis"]["spend"] == f"{total_spend:.2f}" and m["timezone"] == "Europe/Berlin"
    campaigns = {c["campaign_id"]: c for c in m["campaigns"]}
    assert set(campaigns) == {"200290000", "200290001"}
    one, two = campaigns["200290000"], campaigns["200290001"]
    spend_one, value_one = _spend(fake, "200290000")
    spend_two, _ = _spend(fake, "200290001")
    assert one["spend"] == f"{spend_one:.2f}"
    assert one["platform_roas"] == f"{(value_one / spend_one).quantize(Decimal('0.0001'))}"
    assert set(one["attributed"]) == set(MODELS)
    assert one["attributed"]["last_touch"]["revenue"] == "100.00"  # by utm_id; the USD conversion is not counted
    assert one["attributed"]["last_touch"]["roas"] == f"{(Decimal(100) / spend_one).quantize(Decimal('0.0001'))}"
    assert one["attributed"]["linear"]["revenue"] == "50.00"
    assert two["attributed"]["linear"]["revenue"] == "50.00"  # by utm_campaign, case-insensitive
    assert two["attributed"]["last_touch"]["revenue"] == "0.00"  # only the current attribution version counts
    assert two["spend"] == f"{spend_two:.2f}"

    reversed_range = api.client.get(
        "/api/v1/dashboard/meta", params={"from": TODAY.isoformat(), "to": WEEK_AGO.isoformat()}, headers=auth
    )
    assert reversed_range.status_code == 422 and reversed_range.json()["errors"][0]["field"] == "from"
    bad_date = api.client.get("/api/v1/dashboard/home", params={"from": "yesterday"}, headers=auth)
    assert bad_date.status_code == 422 and "from" in bad_date.json()["errors"][0]["field"]

    other = _euro_tenant(api, "Meta Other")
    theirs = api.client.get("/api/v1/dashboard/meta", params=params, headers=api.auth(other.owner_token)).json()
    assert theirs["campaigns"] == [] and theirs["kpis"]["spend"] == "0.00"
    key = api.client.get("/api/v1/dashboard/home", headers=api.auth(tenant.api_key))
    assert key.status_code == 403


def test_connect_queues_the_first_fill_which_the_sync_function_runs(
    api: Api, container: Container, fake: FakeMeta
) -> None:
    from multibuzz.db.models.commerce import FactMetaDaily, SyncRun
    from sqlalchemy import func, select

    from infra.local.dispatch import deliver_once, load_handler

    tenant = _euro_tenant(api, "Meta First Fill")
    made = api.client.post(
        "/api/v1/integrations/meta",
        json={"ad_account_id": "act_2002", "access_token": TOKEN},
        headers=api.auth(tenant.owner_token),
    )
    assert made.status_code == 201, made.text
    assert made.json()["next_sync"] == "meta_7d_fill"
    assert container.local_queue.depth("sync") == 1, "the connection queued its first fill"
    report = deliver_once(container.local_queue, "sync", load_handler("sync"), batch_size=10, backoff_seconds=0)
    assert report.received == 1 and container.local_queue.depth("sync") == 0
    with container.session() as session:
        runs = session.execute(
            select(SyncRun.type, SyncRun.status, SyncRun.trigger).where(SyncRun.integration_id == made.json()["id"])
        ).all()
        spend = session.scalar(
            select(func.sum(FactMetaDaily.spend)).where(FactMetaDaily.integration_id == made.json()["id"])
        )
    assert runs == [("meta_7d_fill", "succeeded", "connect")]
    assert Decimal(spend) == _spend(fake)[0]
