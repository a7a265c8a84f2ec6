"""Real journeys: HTTP ingestion API → ingest FIFO queue → attribution consumer → read API."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from multibuzz.adapters.queue.base import OutgoingMessage
from multibuzz.bootstrap import Container
from multibuzz.consumers import hooks
from multibuzz.db.models import Event, Visitor, VisitSession
from sqlalchemy import func, select

from infra.local.dispatch import deliver_once, load_handler
from tests.conftest import Api, Tenant

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
VISITOR_A = "a" * 64
VISITOR_B = "b" * 64
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)


def at(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).isoformat()


def drain(container: Container) -> int:
    """Run the attribution consumer until the ingest queue is empty; returns messages received."""
    handler = load_handler("attribution")
    total = 0
    while True:
        report = deliver_once(container.local_queue, "ingest", handler, batch_size=10, backoff_seconds=0)
        if not report.received:
            return total
        total += report.received


def page_view(visitor: str, minutes: float, url: str, referrer: str | None = None, **extra: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"url": url}
    if referrer:
        props["referrer"] = referrer
    return {
        "event_type": "page_view",
        "visitor_id": visitor,
        "timestamp": at(minutes),
        "user_agent": CHROME,
        "ip": "203.0.113.77",
        "properties": props,
        **extra,
    }


def track(api: Api, tenant: Tenant, *events: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = api.client.post("/api/v1/events", json={"events": list(events)}, headers=api.auth(tenant.api_key))
    assert response.status_code == 202, response.text
    return dict(response.json())


def visitor(api: Api, tenant: Tenant, key: str) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/visitors/{key}", headers=api.auth(tenant.owner_token))
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_first_visit_then_same_session_page_views(api: Api, container: Container) -> None:
    shop = api.tenant("Shop")
    landing = "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=Spring&gclid=abc123"
    started = api.client.post(
        "/api/v1/sessions",
        json={
            "session": {
                "visitor_id": VISITOR_A,
                "session_id": "s-1",
                "url": landing,
                "referrer": "https://www.google.com/",
                "user_agent": IPHONE,
                "ip": "203.0.113.77",
                "started_at": at(0),
            }
        },
        headers=api.auth(shop.api_key),
    )
    assert started.status_code == 202, started.text
    assert started.json() == {"status": "accepted", "visitor_id": VISITOR_A, "session_id": "s-1"}
    first = track(api, shop, page_view(VISITOR_A, 0, landing, "https://www.google.com/"))
    assert first["accepted"] == 1 and first["rejected"] == 0 and first["events"][0]["id"].startswith("evt_")
    track(
        api,
        shop,
        page_view(VISITOR_A, 5, "https://shop.example/products/1", "https://shop.example/"),
        page_view(VISITOR_A, 12, "https://shop.example/cart", "https://shop.example/products/1"),
        {"event_type": "add_to_cart", "visitor_id": VISITOR_A, "timestamp": at(13), "properties": {"sku": "S1"}},
    )
    drain(container)

    journey = visitor(api, shop, VISITOR_A)
    assert len(journey["sessions"]) == 1
    session = journey["sessions"][0]
    assert session["channel"] == "paid_search"
    assert session["utm"] == {"source": "google", "medium": "cpc", "campaign": "Spring", "content": None, "term": None}
    assert session["landing_url"] == landing and session["referrer"] == "https://www.google.com/"
    assert session["click_id_type"] == "gclid"
    assert session["page_view_count"] == 3
    assert session["device"] == {"type": "mobile", "browser": "Mobile Safari", "os": "iOS", "is_bot": False}
    assert session["started_at"].startswith(at(0)[:19]) and session["last_activity_at"].startswith(at(13)[:19])
    assert [e["event_type"] for e in journey["events"]] == ["page_view", "page_view", "page_view", "add_to_cart"]
    assert {e["session_id"] for e in journey["events"]} == {session["id"]}
    with container.session() as db:
        row = db.scalars(select(VisitSession)).one()
        assert row.ip == "203.0.113.0", "IPs are truncated to /24 by default"
        assert row.client_session_id == "s-1"


def test_return_visit_after_31_minutes_starts_a_new_session(api: Api, container: Container) -> None:
    shop = api.tenant("Return")
    track(
        api,
        shop,
        page_view(VISITOR_A, 0, "https://shop.example/?utm_source=newsletter&utm_medium=email"),
        page_view(VISITOR_A, 10, "https://shop.example/a", "https://shop.example/"),
        page_view(VISITOR_A, 41, "https://shop.example/b", "https://shop.example/a"),  # 31 min after the last hit
        page_view(VISITOR_A, 45, "https://shop.example/c", "https://shop.example/b"),
    )
    drain(container)
    sessions = visitor(api, shop, VISITOR_A)["sessions"]
    assert [(s["channel"], s["page_view_count"]) for s in sessions] == [("email", 2), ("direct", 2)]
    assert sessions[1]["landing_url"] == "https://shop.example/b", "the return visit keeps its own first hit"


def test_session_timeout_is_configurable_per_account(api: Api, container: Container) -> None:
    shop = api.tenant("Short timeout")
    patched = api.client.patch(
        f"/api/v1/accounts/{shop.account_id}/settings",
        json={"session_timeout_minutes": 10},
        headers=api.auth(shop.owner_token),
    )
    assert patched.status_code == 200, patched.text
    track(
        api, shop, page_view(VISITOR_A, 0, "https://shop.example/"), page_view(VISITOR_A, 11, "https://shop.example/x")
    )
    drain(container)
    assert len(visitor(api, shop, VISITOR_A)["sessions"]) == 2


def test_mid_session_campaign_change_starts_a_session_but_internal_links_do_not(api: Api, container: Container) -> None:
    shop = api.tenant("Campaigns")
    patched = api.client.patch(
        f"/api/v1/accounts/{shop.account_id}/settings",
        json={"domains": ["shop.example", "blog.shop.example"]},
        headers=api.auth(shop.owner_token),
    )
    assert patched.status_code == 200
    track(
        api,
        shop,
        page_view(VISITOR_A, 0, "https://shop.example/?utm_source=facebook&utm_medium=paid_social&utm_campaign=A"),
        # An internal link that carries UTMs (a banner on the blog) never splits the visit.
        page_view(
            VISITOR_A, 2, "https://shop.example/sale?utm_source=blog&utm_medium=banner", "https://blog.shop.example/"
        ),
        # A new ad click from outside does, even 3 minutes later.
        page_view(
            VISITOR_A,
            5,
            "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=B",
            "https://www.google.com/",
        ),
        page_view(VISITOR_A, 6, "https://shop.example/p", "https://shop.example/"),
    )
    drain(container)
    sessions = visitor(api, shop, VISITOR_A)["sessions"]
    assert [(s["channel"], s["utm"]["campaign"], s["page_view_count"]) for s in sessions] == [
        ("paid_social", "A", 2),
        ("paid_search", "B", 2),
    ]


def test_identify_links_two_devices_to_one_identity(api: Api, container: Container) -> None:
    shop = api.tenant("Devices")
    linked: list[tuple[str, str]] = []

    def record(session: Any, _: Container, account_id: str, identity_id: str) -> None:
        linked.append((account_id, identity_id))

    hooks.on_identity_linked(record)
    try:
        track(api, shop, page_view(VISITOR_A, 0, "https://shop.example/?utm_source=tiktok&utm_medium=paid_social"))
        track(api, shop, {**page_view(VISITOR_B, 60, "https://shop.example/"), "user_agent": IPHONE})
        answers = []
        for key in (VISITOR_A, VISITOR_B):
            response = api.client.post(
                "/api/v1/identify",
                json={"user_id": "user-42", "visitor_id": key, "traits": {"plan": "pro"}},
                headers=api.auth(shop.api_key),
            )
            assert response.status_code == 200, response.text
            answers.append(response.json())
        bare = api.client.post("/api/v1/identify", json={"user_id": "user-42"}, headers=api.auth(shop.api_key))
        assert bare.json()["visitor_linked"] is False
        # A later event naming only the user lands on the user's most recently seen visitor (B).
        user_only = {"event_type": "signup", "user_id": "user-42", "timestamp": at(61), "properties": {}}
        track(api, shop, user_only)
        drain(container)
    finally:
        hooks._identity_linked.remove(record)

    identity_id = answers[0]["identity_id"]
    assert answers == [{"success": True, "identity_id": identity_id, "visitor_linked": True}] * 2
    assert bare.json()["identity_id"] == identity_id and identity_id.startswith("idt_") and len(identity_id) == 30
    a, b = visitor(api, shop, VISITOR_A), visitor(api, shop, VISITOR_B)
    assert a["identity_id"] == b["identity_id"] == identity_id and a["user_id"] == "user-42"
    assert a["events"][0]["identity_id"] == identity_id, "earlier events of a linked visitor join the identity"
    assert [e["event_type"] for e in b["events"]] == ["page_view", "signup"]
    assert b["events"][1]["session_id"] == b["sessions"][0]["id"]
    assert linked == [(shop.account_id, identity_id)] * 2


def test_redelivery_three_times_stores_each_event_once(api: Api, container: Container) -> None:
    shop = api.tenant("Redelivery")
    batch = [page_view(VISITOR_A, m, f"https://shop.example/{m}", event_id=f"client-{m}") for m in range(5)]
    first = track(api, shop, *batch)
    api.client.post(
        "/api/v1/sessions",
        json={"session": {"visitor_id": VISITOR_B, "session_id": "sb", "url": "https://shop.example/"}},
        headers=api.auth(shop.api_key),
    )
    api.client.post("/api/v1/identify", json={"user_id": "u1", "visitor_id": VISITOR_A}, headers=api.auth(shop.api_key))
    queued = container.local_queue.receive("ingest", 100, visibility_timeout=0)
    assert len(queued) == 3
    drain(container)
    # Every message arrives twice more, long after the FIFO deduplication window.
    for _ in range(2):
        container.local_queue.send_batch("ingest", [OutgoingMessage(m.body, group_id=m.group_id) for m in queued])
        assert drain(container) == 3
    # And the client retries the whole batch: same ids back, nothing new stored.
    again = track(api, shop, *batch)
    assert again["events"] == first["events"]
    drain(container)

    with container.session() as db:
        assert db.scalar(select(func.count()).select_from(Event)) == 5
        assert db.scalar(select(func.count()).select_from(VisitSession)) == 2
        assert db.scalar(select(func.count()).select_from(Visitor)) == 2
        pv = db.scalar(select(VisitSession.page_view_count).where(VisitSession.client_session_id.is_(None)))
        assert pv == 5
    assert container.local_queue.dead_letters("ingest") == []


def test_batch_with_bad_events_stores_the_good_ones_and_reports_the_bad(api: Api, container: Container) -> None:
    shop = api.tenant("Bad events")
    events: list[dict[str, Any]] = [
        page_view(f"{i:064x}", i / 10, f"https://shop.example/{i}", event_id=f"e{i}") for i in range(100)
    ]
    del events[5]["event_type"]
    events[42]["timestamp"] = "next tuesday"
    events[77]["properties"] = {"blob": "x" * 40_000}
    response = api.client.post("/api/v1/events", json={"events": events}, headers=api.auth(shop.api_key))
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (97, 3)
    assert [(e["index"], e["field"]) for e in body["errors"]] == [
        (5, "events[5].event_type"),
        (42, "events[42].timestamp"),
        (77, "events[77].properties"),
    ]
    assert "32 KB" in body["errors"][2]["message"]
    assert [e["index"] for e in body["events"]] == [i for i in range(100) if i not in (5, 42, 77)]
    drain(container)
    with container.session() as db:
        assert db.scalar(select(func.count()).select_from(Event)) == 97
        assert db.scalar(select(func.count()).select_from(VisitSession)) == 97


def test_twenty_concurrent_first_hits_make_one_session(api: Api, container: Container) -> None:
    shop = api.tenant("Concurrent")
    hits = [page_view(VISITOR_A, i / 60, f"https://shop.example/?utm_source=x&utm_medium=y&n={i}") for i in range(20)]

    def send(hit: dict[str, Any]) -> int:
        response = api.client.post("/api/v1/events", json={"events": [hit]}, headers=api.auth(shop.api_key))
        return response.status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert list(pool.map(send, hits)) == [202] * 20
    drain(container)
    with container.session() as db:
        sessions = db.scalars(select(VisitSession)).all()
        assert len(sessions) == 1 and sessions[0].page_view_count == 20
        assert db.scalar(select(func.count()).select_from(Event)) == 20


def test_bots_are_flagged_on_their_session(api: Api, container: Container) -> None:
    shop = api.tenant("Bots")
    track(api, shop, {**page_view(VISITOR_A, 0, "https://shop.example/"), "user_agent": BOT})
    drain(container)
    session = visitor(api, shop, VISITOR_A)["sessions"][0]
    assert session["device"]["is_bot"] is True


def test_unified_form_and_action_aliases(api: Api, container: Container) -> None:
    shop = api.tenant("Unified")
    purchase = api.client.post(
        "/api/v1/events",
        json={
            "action": "purchase",
            "visitor_id": VISITOR_A,
            "value": "49.90",
            "currency": "eur",
            "coupon_code": "ANNA10",
            "ref_code": "anna",
            "landing_url": "https://shop.example/",
            "referrer": "https://instagram.com/",
            "properties": {"order_id": "o-1"},
        },
        headers=api.auth(shop.api_key),
    )
    assert purchase.status_code == 202, purchase.text
    assert purchase.json()["event_id"] == purchase.json()["events"][0]["id"]
    alias = api.client.post(
        "/api/v1/event/add_to_cart",
        json={"visitor_id": VISITOR_A, "properties": {"sku": "S1"}},
        headers={**api.auth(shop.api_key), "Idempotency-Key": "cart-1"},
    )
    assert alias.status_code == 202, alias.text
    retried = api.client.post(
        "/api/v1/event/add_to_cart",
        json={"visitor_id": VISITOR_A, "properties": {"sku": "S1"}},
        headers={**api.auth(shop.api_key), "Idempotency-Key": "cart-1"},
    )
    assert retried.json()["event_id"] == alias.json()["event_id"]
    unknown = api.client.post("/api/v1/event/refund", json={"visitor_id": VISITOR_A}, headers=api.auth(shop.api_key))
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    drain(container)
    journey = visitor(api, shop, VISITOR_A)
    assert [e["event_type"] for e in journey["events"]] == ["purchase", "add_to_cart"]
    props = journey["events"][0]["properties"]
    assert (props["value"], props["currency"], props["coupon_code"], props["ref_code"]) == (
        49.9,
        "EUR",
        "ANNA10",
        "anna",
    )
    session = journey["sessions"][0]
    assert (session["ref_code"], session["channel"]) == ("anna", "affiliate")


def test_funnel_properties_land_in_their_columns(api: Api, container: Container) -> None:
    shop = api.tenant("Funnels")
    track(
        api,
        shop,
        {
            "event_type": "checkout_started",
            "visitor_id": VISITOR_A,
            "timestamp": at(1),
            "properties": {"funnel": "checkout", "funnel_step": "shipping", "funnel_position": 2},
        },
    )
    drain(container)
    with container.session() as db:
        event = db.scalars(select(Event)).one()
        assert (event.funnel, event.funnel_step, event.funnel_position) == ("checkout", "shipping", 2)
        assert json.loads(json.dumps(event.properties))["funnel"] == "checkout"


def test_a_return_from_a_payment_provider_neither_starts_a_session_nor_is_a_referral(
    api: Api, container: Container
) -> None:
    shop = api.tenant("Payments")
    track(
        api,
        shop,
        page_view(VISITOR_A, 0, "https://shop.example/p/1", "https://www.google.com/"),
        page_view(VISITOR_A, 4, "https://shop.example/checkout", "https://shop.example/p/1"),
        # back from PayPal; the return URL even carries the shop's own tagging
        page_view(
            VISITOR_A,
            9,
            "https://shop.example/checkout/thanks?token=EC-8AB12&utm_source=paypal&utm_medium=referral",
            "https://www.paypal.com/checkoutnow?token=EC-8AB12",
        ),
        page_view(VISITOR_A, 10, "https://shop.example/account", "https://checkout.stripe.com/c/pay/cs_live_x"),
        # another visitor spends 40 minutes with the bank's 3-D Secure page: the timeout still ends the visit,
        # but the new session is not "referral" (last-non-direct credit stays with the search visit)
        page_view(VISITOR_B, 0, "https://shop.example/", "https://www.bing.com/"),
        page_view(VISITOR_B, 41, "https://shop.example/checkout/done", "https://checkoutshopper-live.adyen.com/3ds"),
    )
    drain(container)
    sessions = visitor(api, shop, VISITOR_A)["sessions"]
    assert [(s["channel"], s["page_view_count"]) for s in sessions] == [("organic_search", 4)]
    sessions_b = visitor(api, shop, VISITOR_B)["sessions"]
    assert [(s["channel"], s["page_view_count"]) for s in sessions_b] == [("organic_search", 1), ("direct", 1)]


def test_a_campaign_hit_inside_an_open_session_starts_a_new_session(api: Api, container: Container) -> None:
    shop = api.tenant("Late campaign")
    track(
        api,
        shop,
        page_view(VISITOR_A, 0, "https://shop.example/"),
        page_view(VISITOR_A, 3, "https://shop.example/a", "https://shop.example/"),
        # 5 minutes into a direct visit, the visitor clicks a newsletter link: a new marketing touch
        page_view(VISITOR_A, 8, "https://shop.example/#utm_source=newsletter&utm_medium=email&utm_campaign=May", None),
        page_view(VISITOR_A, 9, "https://shop.example/b", "https://shop.example/"),
        # the same campaign again (a reload of the tagged page) continues that session
        page_view(VISITOR_A, 10, "https://shop.example/#utm_source=newsletter&utm_medium=email&utm_campaign=May"),
    )
    drain(container)
    sessions = visitor(api, shop, VISITOR_A)["sessions"]
    assert [(s["channel"], s["utm"]["campaign"], s["page_view_count"]) for s in sessions] == [
        ("direct", None, 2),
        ("email", "May", 3),
    ]


@pytest.mark.parametrize("same_batch", [False, True], ids=["stored-then-late", "late-in-the-same-batch"])
def test_a_late_arriving_campaign_hit_splits_the_session_it_lands_in(
    api: Api, container: Container, same_batch: bool
) -> None:
    shop = api.tenant(f"Late arrival {same_batch}")
    track(
        api,
        shop,
        page_view(VISITOR_A, 0, "https://shop.example/"),
        page_view(VISITOR_A, 20, "https://shop.example/b", "https://shop.example/"),
    )
    if not same_batch:
        drain(container)
    # the tagged hit of minute 10 reaches us after the later one (a retried SDK request)
    track(api, shop, page_view(VISITOR_A, 10, "https://shop.example/?utm_source=google&utm_medium=cpc&gclid=x1"))
    drain(container)
    sessions = visitor(api, shop, VISITOR_A)["sessions"]
    assert [(s["channel"], s["page_view_count"]) for s in sessions] == [("direct", 1), ("paid_search", 2)]
    assert sessions[0]["last_activity_at"].startswith(at(0)[:19])
    events = visitor(api, shop, VISITOR_A)["events"]
    assert [e["session_id"] for e in events] == [sessions[0]["id"], sessions[1]["id"], sessions[1]["id"]]
