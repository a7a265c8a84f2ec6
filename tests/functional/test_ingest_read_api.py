"""The read side of tracking: a visitor's journey and the event log, account-scoped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from multibuzz.bootstrap import Container

from infra.local.dispatch import deliver_once, load_handler
from tests.conftest import Api, Tenant

START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
VISITOR = "e" * 64


def drain(container: Container) -> None:
    handler = load_handler("attribution")
    while deliver_once(container.local_queue, "ingest", handler, backoff_seconds=0).received:
        pass


def seed(api: Api, tenant: Tenant, container: Container) -> list[str]:
    """Seven events over an hour for two visitors; returns their ids in time order."""
    kinds = ["page_view", "page_view", "add_to_cart", "page_view", "checkout_started", "purchase", "page_view"]
    events: list[dict[str, Any]] = []
    for i, kind in enumerate(kinds):
        properties: dict[str, Any] = {"url": f"https://shop.example/{i}"}
        if kind in ("add_to_cart", "checkout_started", "purchase"):
            properties.update(funnel="checkout", funnel_position=i)
        events.append(
            {
                "event_type": kind,
                "visitor_id": VISITOR if i < 6 else "f" * 64,
                "timestamp": (START + timedelta(minutes=10 * i)).isoformat(),
                "properties": properties,
            }
        )
    response = api.client.post("/api/v1/events", json={"events": events}, headers=api.auth(tenant.api_key))
    assert response.status_code == 202
    drain(container)
    return [e["id"] for e in response.json()["events"]]


def test_event_log_filters_and_pages_newest_first(api: Api, container: Container) -> None:
    shop = api.tenant("Log")
    ids = seed(api, shop, container)
    headers = api.auth(shop.owner_token)

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = api.client.get("/api/v1/events", params=params, headers=headers)
        assert page.status_code == 200, page.text
        seen += [e["id"] for e in page.json()["data"]]
        cursor = page.json()["next_cursor"]
        pages += 1
        if cursor is None:
            break
    assert seen == list(reversed(ids)) and pages == 3

    def listed(**params: Any) -> list[str]:
        response = api.client.get("/api/v1/events", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [e["event_type"] for e in response.json()["data"]]

    assert listed(type="page_view") == ["page_view"] * 4
    assert listed(funnel="checkout") == ["purchase", "checkout_started", "add_to_cart"]
    window = {"from": (START + timedelta(minutes=10)).isoformat(), "to": (START + timedelta(minutes=30)).isoformat()}
    assert listed(**window) == ["add_to_cart", "page_view"]
    assert listed(visitor="f" * 64) == ["page_view"]
    first = api.client.get("/api/v1/events", params={"limit": 1}, headers=headers).json()["data"][0]
    assert first["visitor_id"] == "f" * 64 and first["url"] == "https://shop.example/6"

    bad = api.client.get("/api/v1/events", params={"cursor": "garbage!"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
    too_many = api.client.get("/api/v1/events", params={"limit": 201}, headers=headers)
    assert too_many.status_code == 422


def test_tracking_reads_are_account_scoped_and_role_checked(api: Api, container: Container) -> None:
    alpha = api.tenant("Alpha shop")
    beta = api.tenant("Beta shop")
    seed(api, alpha, container)
    as_beta = api.auth(beta.owner_token)
    assert api.client.get(f"/api/v1/visitors/{VISITOR}", headers=as_beta).status_code == 404
    assert api.client.get("/api/v1/events", headers=as_beta).json() == {"data": [], "next_cursor": None}
    assert api.client.get("/api/v1/events", params={"visitor": VISITOR}, headers=as_beta).json()["data"] == []

    member = api.add_member(alpha, "analyst@alpha.test", "member")
    journey = api.client.get(f"/api/v1/visitors/{VISITOR}", headers=api.auth(member))
    assert journey.status_code == 200
    assert len(journey.json()["events"]) == 6 and journey.json()["more_events"] is False
    influencer = api.add_member(alpha, "creator@alpha.test", "influencer", influencer_id="inf_1")
    for path in (f"/api/v1/visitors/{VISITOR}", "/api/v1/events"):
        assert api.client.get(path, headers=api.auth(influencer)).status_code == 403
    assert api.client.get("/api/v1/events", headers=api.auth(alpha.api_key)).status_code == 401
