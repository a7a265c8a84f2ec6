"""Data for the page tests, sent through the public API and the real consumers (nothing seeded behind it).

One account with: a three-touch journey ending in a 99.00 purchase today and a 40.00 signup 10 days ago
(so "today" and "last 30 days" show different numbers), an influencer world (campaign, two influencers, a
link, a coupon) and a coupon purchase credited to an influencer, who also has a login.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from multibuzz.bootstrap import Container

from infra.local.dispatch import deliver_once, load_handler
from tests.conftest import Api, Tenant

VISITOR = "a" * 64
OTHER_VISITOR = "b" * 64


def drain(container: Container) -> None:
    handler = load_handler("attribution")
    while sum(deliver_once(container.local_queue, q, handler, batch_size=10).received for q in ("ingest", "clicks")):
        pass


def ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


@dataclass
class World:
    tenant: Tenant
    purchase_id: str
    signup_id: str
    coupon_purchase_id: str
    campaign_id: str
    link_id: str
    influencer_id: str
    influencer_email: str
    influencer_token: str


def _post(api: Api, token: str, path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    response = api.client.post(path, json=body, headers=api.auth(token))
    assert response.status_code == status, response.text
    return dict(response.json())


def _visit(api: Api, tenant: Tenant, visitor: str, url: str, days_ago: float, referrer: str | None = None) -> None:
    session: dict[str, Any] = {
        "visitor_id": visitor,
        "url": url,
        "started_at": ago(days_ago),
        "user_agent": "Mozilla/5.0",
    }
    if referrer:
        session["referrer"] = referrer
    _post(api, tenant.api_key, "/api/v1/sessions", {"session": session}, 202)


def build(api: Api, container: Container, name: str = "Acme Store") -> World:
    object.__setattr__(container.settings, "conversion_lookup_grace_seconds", 0.0)
    tenant = api.tenant(name)
    _visit(api, tenant, VISITOR, "https://shop.example/", 12, referrer="https://www.google.co.uk/search?q=shoes")
    _visit(api, tenant, VISITOR, "https://shop.example/?utm_source=facebook&utm_medium=cpc&utm_campaign=spring", 5)
    _visit(api, tenant, VISITOR, "https://shop.example/?utm_source=newsletter&utm_medium=email&utm_campaign=june", 0.02)
    drain(container)  # the sessions first: a conversion names a visitor that must exist
    signup = _post(
        api,
        tenant.api_key,
        "/api/v1/conversions",
        {"conversion_type": "signup", "visitor_id": VISITOR, "revenue": "40", "currency": "USD", "timestamp": ago(10)},
        202,
    )
    purchase = _post(
        api,
        tenant.api_key,
        "/api/v1/conversions",
        {"conversion_type": "purchase", "visitor_id": VISITOR, "revenue": "99", "currency": "USD"},
        202,
    )
    owner = tenant.owner_token
    campaign = _post(
        api, owner, "/api/v1/campaigns", {"name": "Spring", "default_destination_url": "https://shop.example/"}
    )
    anna = _post(api, owner, "/api/v1/influencers", {"name": "Anna", "handle": "anna"})
    ben = _post(api, owner, "/api/v1/influencers", {"name": "Ben", "handle": "ben"})
    link = _post(api, owner, "/api/v1/links", {"campaign_id": campaign["id"], "influencer_id": anna["id"]})
    _post(api, owner, "/api/v1/coupons", {"code": "BEN10", "campaign_id": campaign["id"], "influencer_id": ben["id"]})
    _visit(api, tenant, OTHER_VISITOR, "https://shop.example/?utm_source=instagram&utm_medium=social", 0.01)
    drain(container)
    coupon_purchase = _post(
        api,
        tenant.api_key,
        "/api/v1/events",
        {"action": "purchase", "visitor_id": OTHER_VISITOR, "value": "50", "currency": "USD", "coupon_code": "BEN10"},
        202,
    )
    drain(container)
    email = "ben@creators.test"
    token = api.add_member(tenant, email, "influencer", influencer_id=ben["id"])
    return World(
        tenant=tenant,
        purchase_id=str(purchase["conversion"]["id"]),
        signup_id=str(signup["conversion"]["id"]),
        coupon_purchase_id=str(coupon_purchase["conversion_id"]),
        campaign_id=str(campaign["id"]),
        link_id=str(link["id"]),
        influencer_id=str(ben["id"]),
        influencer_email=email,
        influencer_token=token,
    )
