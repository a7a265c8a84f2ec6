"""Whole journeys through the public HTTP API and the real consumers, on SQLite and MariaDB.

Sessions arrive over POST /api/v1/sessions, clicks through GET /r/{code}, purchases through
POST /api/v1/conversions or the unified POST /api/v1/events; nothing is seeded behind the API.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from multibuzz.bootstrap import Container

from infra.local.dispatch import deliver_once, load_handler
from tests.conftest import Api, Tenant

VISITOR = "a" * 64


@pytest.fixture(autouse=True)
def _no_lookup_grace(container: Container) -> None:
    object.__setattr__(container.settings, "conversion_lookup_grace_seconds", 0.0)


def drain(container: Container) -> None:
    handler = load_handler("attribution")
    while sum(deliver_once(container.local_queue, q, handler, batch_size=10).received for q in ("ingest", "clicks")):
        pass


def ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def visit(api: Api, tenant: Tenant, visitor: str, url: str, *, referrer: str | None = None, days_ago: float) -> None:
    session = {"visitor_id": visitor, "url": url, "started_at": ago(days_ago), "user_agent": "Mozilla/5.0"}
    if referrer:
        session["referrer"] = referrer
    response = api.client.post("/api/v1/sessions", json={"session": session}, headers=api.auth(tenant.api_key))
    assert response.status_code == 202, response.text


def credited(credits: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(c["channel"], c["revenue_credit"]) for c in credits if Decimal(c["credit"]) != 0]


def attribution_of(api: Api, tenant: Tenant, conversion_id: str) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/conversions/{conversion_id}", headers=api.auth(tenant.api_key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["conversion"]["status"] == "attributed"
    return dict(body["attribution"])


def three_visits(api: Api, tenant: Tenant, visitor: str) -> None:
    visit(
        api, tenant, visitor, "https://shop.example/", referrer="https://www.google.co.uk/search?q=shoes", days_ago=10
    )
    visit(
        api,
        tenant,
        visitor,
        "https://shop.example/?utm_source=facebook&utm_medium=cpc&utm_campaign=spring",
        referrer="https://l.facebook.com/",
        days_ago=5,
    )
    visit(
        api,
        tenant,
        visitor,
        "https://shop.example/?utm_source=newsletter&utm_medium=email&utm_campaign=june",
        days_ago=1,
    )


def test_organic_search_paid_social_email_then_a_purchase_of_99(api: Api, container: Container) -> None:
    tenant = api.tenant("Journey Store")
    three_visits(api, tenant, VISITOR)
    drain(container)
    visitor = api.client.get(f"/api/v1/visitors/{VISITOR}", headers=api.auth(tenant.owner_token)).json()
    assert [s["channel"] for s in sorted(visitor["sessions"], key=lambda s: s["started_at"])] == [
        "organic_search",
        "paid_social",
        "email",
    ]

    created = api.client.post(
        "/api/v1/conversions",
        json={"conversion_type": "purchase", "visitor_id": VISITOR, "revenue": "99.00", "currency": "USD"},
        headers=api.auth(tenant.api_key),
    )
    assert created.status_code == 202, created.text
    drain(container)
    result = attribution_of(api, tenant, created.json()["conversion"]["id"])
    models = result["models"]
    assert result["sessions_analyzed"] == 3
    assert credited(models["first_touch"]) == [("organic_search", "99.00")]
    assert credited(models["last_touch"]) == [("email", "99.00")]
    assert credited(models["linear"]) == [("organic_search", "33.00"), ("paid_social", "33.00"), ("email", "33.00")]
    assert credited(models["last_non_direct"]) == [("email", "99.00")]
    assert credited(models["position_based"]) == [
        ("organic_search", "39.60"),
        ("paid_social", "19.80"),
        ("email", "39.60"),
    ]
    for model, credits in models.items():
        expected = Decimal("297.00") if model == "participation" else Decimal("99.00")
        assert sum(Decimal(c["revenue_credit"]) for c in credits) == expected, model


def test_a_unified_purchase_event_is_also_an_attributed_conversion(api: Api, container: Container) -> None:
    tenant = api.tenant("Unified Store")
    three_visits(api, tenant, VISITOR)
    response = api.client.post(
        "/api/v1/events",
        json={
            "action": "purchase",
            "visitor_id": VISITOR,
            "value": 99,
            "currency": "usd",
            "properties": {"order_id": "O-1"},
        },
        headers=api.auth(tenant.api_key),
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["event_id"].startswith("evt_")
    assert body["conversion_id"].startswith("conv_")
    again = api.client.post(
        "/api/v1/events",
        json={"action": "purchase", "visitor_id": VISITOR, "value": 99, "event_id": "client-evt-1"},
        headers=api.auth(tenant.api_key),
    )
    retry = api.client.post(
        "/api/v1/events",
        json={"action": "purchase", "visitor_id": VISITOR, "value": 99, "event_id": "client-evt-1"},
        headers=api.auth(tenant.api_key),
    )
    assert again.json()["conversion_id"] == retry.json()["conversion_id"], "a retried purchase is one conversion"
    no_value_signup = api.client.post(
        "/api/v1/event/signup", json={"visitor_id": VISITOR}, headers=api.auth(tenant.api_key)
    )
    assert "conversion_id" not in no_value_signup.json()
    drain(container)
    result = attribution_of(api, tenant, body["conversion_id"])
    assert credited(result["models"]["first_touch"]) == [("organic_search", "99.00")]
    listed = api.client.get("/api/v1/conversions", headers=api.auth(tenant.owner_token)).json()["data"]
    assert sorted(c["id"] for c in listed) == sorted({body["conversion_id"], again.json()["conversion_id"]})
    assert {c["currency"] for c in listed} == {"USD"}


def _influencer_world(api: Api, tenant: Tenant) -> dict[str, str]:
    owner = api.auth(tenant.owner_token)

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = api.client.post(path, json=body, headers=owner)
        assert response.status_code == 201, response.text
        return dict(response.json())

    campaign = post("/api/v1/campaigns", {"name": "Spring", "default_destination_url": "https://shop.example/"})
    anna = post("/api/v1/influencers", {"name": "Anna", "handle": "anna"})
    ben = post("/api/v1/influencers", {"name": "Ben", "handle": "ben"})
    link = post("/api/v1/links", {"campaign_id": campaign["id"], "influencer_id": anna["id"]})
    post("/api/v1/coupons", {"code": "Ben10", "campaign_id": campaign["id"], "influencer_id": ben["id"]})
    post("/api/v1/coupons", {"code": "WELCOME", "campaign_id": campaign["id"]})
    return {"anna": anna["id"], "ben": ben["id"], "code": link["code"], "link": link["id"]}


def _click_and_land(api: Api, tenant: Tenant, visitor: str, code: str) -> None:
    redirect = api.client.get(f"/r/{code}", headers={"user-agent": "Mozilla/5.0 (iPhone)"})
    assert redirect.status_code == 302
    landing = redirect.headers["location"]
    assert f"ref_code={code}" in landing
    visit(api, tenant, visitor, landing, referrer="https://www.instagram.com/", days_ago=0.01)


def test_influencer_coupon_beats_another_influencers_link(api: Api, container: Container) -> None:
    tenant = api.tenant("Creators")
    world = _influencer_world(api, tenant)
    _click_and_land(api, tenant, VISITOR, world["code"])
    purchase = api.client.post(
        "/api/v1/events",
        json={
            "action": "purchase",
            "visitor_id": VISITOR,
            "value": "50",
            "coupon_code": "BEN10",
            "ref_code": world["code"],
        },
        headers=api.auth(tenant.api_key),
    )
    drain(container)
    influencer = attribution_of(api, tenant, purchase.json()["conversion_id"])["influencer"]
    assert (influencer["influencer_id"], influencer["method"], influencer["confidence"]) == (
        world["ben"],
        "coupon",
        1.0,
    )
    assert influencer["credit"] == "1"


def test_generic_coupon_falls_through_to_the_link_in_the_landing_url(api: Api, container: Container) -> None:
    tenant = api.tenant("Creators Two")
    world = _influencer_world(api, tenant)
    _click_and_land(api, tenant, VISITOR, world["code"])
    visit(api, tenant, VISITOR, "https://shop.example/cart", referrer="https://shop.example/", days_ago=0.005)
    purchase = api.client.post(
        "/api/v1/events",
        json={"action": "purchase", "visitor_id": VISITOR, "value": "20", "coupon_code": "welcome"},
        headers=api.auth(tenant.api_key),
    )
    drain(container)
    attribution = attribution_of(api, tenant, purchase.json()["conversion_id"])
    influencer = attribution["influencer"]
    assert (influencer["influencer_id"], influencer["method"], influencer["link_id"]) == (
        world["anna"],
        "landing_url",
        world["link"],
    )
    assert credited(attribution["models"]["last_touch"]) == [("affiliate", "20.00")]
    # The click was recorded by the clicks consumer, and an influencer user sees only their own conversions.
    anna = api.client.post(
        f"/api/v1/influencers/{world['anna']}/login",
        json={"email": "anna@creators-two.test"},
        headers=api.auth(tenant.owner_token),
    )
    assert anna.status_code == 201, anna.text
    api.accept(anna.json()["token"])
    anna_token = api.login("anna@creators-two.test", tenant.account_id)
    mine = api.client.get("/api/v1/conversions", headers=api.auth(anna_token)).json()["data"]
    assert [c["id"] for c in mine] == [purchase.json()["conversion_id"]]
    ben_token_view = api.client.get("/api/v1/conversions", headers=api.auth(tenant.owner_token)).json()["data"]
    assert len(ben_token_view) == 1


def test_landing_url_credit_goes_to_the_first_influencer_unless_the_account_asks_for_the_last(
    api: Api, container: Container
) -> None:
    tenant = api.tenant("Creators Three")
    owner = api.auth(tenant.owner_token)
    world = _influencer_world(api, tenant)
    campaign_id = api.client.get(f"/api/v1/links/{world['link']}", headers=owner).json()["campaign_id"]
    ben_link = api.client.post(
        "/api/v1/links", json={"campaign_id": campaign_id, "influencer_id": world["ben"]}, headers=owner
    ).json()
    landing = "https://shop.example/?ref_code={}"
    visit(api, tenant, VISITOR, landing.format(world["code"]), referrer="https://www.instagram.com/", days_ago=3)
    visit(api, tenant, VISITOR, landing.format(ben_link["code"]), referrer="https://www.tiktok.com/", days_ago=1)

    def buy(value: str) -> dict[str, Any]:
        response = api.client.post(
            "/api/v1/events",
            json={"action": "purchase", "visitor_id": VISITOR, "value": value},
            headers=api.auth(tenant.api_key),
        )
        assert response.status_code in (200, 201, 202), response.text
        drain(container)
        return dict(attribution_of(api, tenant, response.json()["conversion_id"])["influencer"])

    first = buy("30")
    assert (first["influencer_id"], first["method"], first["link_id"]) == (world["anna"], "landing_url", world["link"])

    refused = api.client.patch(
        f"/api/v1/accounts/{tenant.account_id}/settings", json={"influencer_touch": "middle"}, headers=owner
    )
    assert refused.status_code == 422 and "influencer_touch" in refused.text
    patched = api.client.patch(
        f"/api/v1/accounts/{tenant.account_id}/settings", json={"influencer_touch": "last"}, headers=owner
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["settings"]["influencer_touch"] == "last"
    last = buy("40")
    assert (last["influencer_id"], last["link_id"]) == (world["ben"], ben_link["id"])
