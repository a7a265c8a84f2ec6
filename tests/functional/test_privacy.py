"""Privacy (issue #15) through the public API and the real consumers, on SQLite and MariaDB.

One subject with two devices, sessions, events, a tracking-link click, an identify and a conversion is
erased; afterwards a scan of every column of every table finds none of their values, while the
attribution report and the click totals are unchanged, and another visitor's data is untouched.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from multibuzz.bootstrap import Container
from multibuzz.db.base import Base
from multibuzz.db.models import PrivacyRequest
from multibuzz.privacy.erasure import run_erasure
from multibuzz.privacy.subjects import SubjectRef
from multibuzz.redirect.cache import link_cache
from sqlalchemy import select

from functions.redirect.handler import lambda_handler as redirect_handler
from infra.local.dispatch import deliver_once, load_handler
from tests.conftest import Api, Tenant
from tests.functional.test_influencer_api import Setup, setup_influencer

DEVICE_A = "device-a-jane-subject-visitor"
DEVICE_B = "device-b-jane-subject-visitor"
USER_ID = "user-jane-subject-42"
EMAIL = "jane.subject@example.org"
IP = "198.51.100.23"
UA = "Mozilla/5.0 (JaneSubjectPhone; erase-me) Mobile"
PHONE = "+1-555-0100-7788"
STREET = "42 Subject Lane"
SUBJECT_VALUES = (DEVICE_A, DEVICE_B, USER_ID, EMAIL, IP, UA, PHONE, STREET)

OTHER = "device-other-visitor-keeps"
OTHER_IP = "192.0.2.77"


@pytest.fixture(autouse=True)
def _fresh(container: Container) -> None:
    link_cache.clear()
    object.__setattr__(container.settings, "conversion_lookup_grace_seconds", 0.0)


def drain(container: Container) -> None:
    redirect_handler.flush()
    handler = load_handler("attribution")
    while sum(
        deliver_once(container.local_queue, q, handler, batch_size=10).received for q in ("clicks", "ingest", "privacy")
    ):
        pass


def ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def scan(container: Container, values: tuple[str, ...]) -> set[tuple[str, str]]:
    """(table, primary key) of every row, in every table, where any column holds any of ``values``."""
    found: set[tuple[str, str]] = set()
    with container.session() as session:
        for table in Base.metadata.sorted_tables:
            pk = [c.name for c in table.primary_key.columns]
            for row in session.execute(select(table)).mappings():
                for value in row.values():
                    if value is None:
                        continue
                    text = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
                    if any(v in text for v in values):
                        found.add((table.name, "|".join(str(row[k]) for k in pk)))
                        break
    return found


def post(api: Api, tenant: Tenant, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.client.post(path, json=body, headers=api.auth(tenant.api_key))
    assert response.status_code in (200, 201, 202), response.text
    return dict(response.json())


def build_world(api: Api, container: Container) -> tuple[Setup, str, str]:
    """The subject (two devices, a click, identify, a conversion) and another visitor, all processed."""
    s = setup_influencer(api, "Privacy")
    tenant = s.tenant
    settings = api.client.patch(
        f"/api/v1/accounts/{tenant.account_id}/settings", json={"ip_privacy": "none"}, headers=s.headers
    )
    assert settings.status_code == 200, settings.text
    link_cache.clear()
    click = api.client.get(f"/r/{s.link['code']}", headers={"user-agent": UA, "cloudfront-viewer-address": f"{IP}:443"})
    assert click.status_code == 302
    landing = click.headers["location"]
    api.client.get(
        f"/r/{s.link['code']}",
        headers={"user-agent": "OtherBrowser/1.0", "cloudfront-viewer-address": f"{OTHER_IP}:443"},
    )
    for device, days in ((DEVICE_A, 3), (DEVICE_B, 1)):
        post(
            api,
            tenant,
            "/api/v1/sessions",
            {"session": {"visitor_id": device, "url": landing, "started_at": ago(days), "user_agent": UA, "ip": IP}},
        )
        post(
            api,
            tenant,
            "/api/v1/events",
            {
                "events": [
                    {
                        "event_type": "page_view",
                        "visitor_id": device,
                        "timestamp": ago(days - 0.001),
                        "ip": IP,
                        "user_agent": UA,
                        "properties": {"url": f"https://shop.example/account?email={EMAIL}"},
                    }
                ]
            },
        )
    post(api, tenant, "/api/v1/identify", {"user_id": USER_ID, "visitor_id": DEVICE_A, "traits": {"email": EMAIL}})
    post(
        api,
        tenant,
        "/api/v1/events",
        {"events": [{"event_type": "signup", "visitor_id": DEVICE_B, "user_id": USER_ID, "timestamp": ago(0.9)}]},
    )
    drain(container)
    conversion = post(
        api,
        tenant,
        "/api/v1/conversions",
        {
            "conversion_type": "purchase",
            "user_id": USER_ID,
            "revenue": "120.50",
            "currency": "USD",
            "properties": {"email": EMAIL, "coupon_code": "NONE", "note": f"for {USER_ID}"},
        },
    )
    post(
        api,
        tenant,
        "/api/v1/sessions",
        {"session": {"visitor_id": OTHER, "url": landing, "started_at": ago(2), "ip": OTHER_IP}},
    )
    drain(container)
    other = post(
        api,
        tenant,
        "/api/v1/conversions",
        {"conversion_type": "purchase", "visitor_id": OTHER, "revenue": "30", "currency": "USD"},
    )
    drain(container)
    shopify_order(container, tenant.account_id)
    return s, conversion["conversion"]["id"], other["conversion"]["id"]


def shopify_order(container: Container, account_id: str) -> None:
    """A Shopify order of the subject (by e-mail, customer id and their _mbuzz_vid), as the webhook consumer
    stores it: the raw order JSON, the webhook body and the fact row."""
    from multibuzz.commerce.shopify.orders import email_hash
    from multibuzz.commerce.shopify.sync import hash_key
    from multibuzz.db.models.commerce import FactOrder, Integration, ShopifyOrderRaw, ShopifyWebhookRaw

    now = datetime.now(UTC)
    order = {
        "id": 8801,
        "name": "#1001",
        "email": EMAIL,
        "phone": PHONE,
        "total_price": "80.00",
        "currency": "USD",
        "customer": {"id": 9901, "email": EMAIL, "first_name": "Jane", "phone": PHONE},
        "shipping_address": {"address1": STREET, "city": "Springfield", "phone": PHONE},
        "note_attributes": [{"name": "_mbuzz_vid", "value": DEVICE_A}],
        "line_items": [{"title": "Mug", "price": "80.00", "properties": [{"name": "engraving", "value": EMAIL}]}],
    }
    with container.session() as session:
        store = Integration(
            id=container.ids.new("int"),
            account_id=account_id,
            type="shopify",
            external_id="privacy-shop.myshopify.com",
            created_at=now,
            updated_at=now,
        )
        session.add(store)
        session.flush()
        common = {"account_id": account_id, "integration_id": store.id}
        session.add(
            ShopifyOrderRaw(
                **common, shopify_order_id="8801", order_updated_at=now, source="webhook", fetched_at=now, payload=order
            )
        )
        session.add(
            ShopifyWebhookRaw(
                **common,
                webhook_id="wh-privacy-1",
                topic="orders/create",
                shop_domain="privacy-shop.myshopify.com",
                received_at=now,
                status="processed",
                payload=order,
            )
        )
        session.add(
            FactOrder(
                **common,
                shopify_order_id="8801",
                order_name="#1001",
                currency="USD",
                gross=Decimal("80.00"),
                discounts=Decimal(0),
                net=Decimal("80.00"),
                refunds=Decimal(0),
                total_price=Decimal("80.00"),
                total_tax=Decimal(0),
                shipping=Decimal(0),
                order_created_at=now,
                order_updated_at=now,
                order_date=now.date(),
                note_attributes=order["note_attributes"],
                customer_ref="shopify:9901",
                shopify_customer_id="9901",
                email_hash=email_hash(EMAIL, hash_key(container)),
                visitor_id=DEVICE_A,
                synced_at=now,
            )
        )
        session.commit()


def reports(api: Api, s: Setup) -> dict[str, Any]:
    attributions = api.client.get("/api/v1/attributions", headers=s.headers)
    assert attributions.status_code == 200, attributions.text
    by_campaign = api.client.get("/api/v1/attributions?group_by=campaign", headers=s.headers)
    clicks = api.client.get("/api/v1/clicks/summary", headers=s.headers)
    assert clicks.status_code == 200, clicks.text
    return {"channel": attributions.json(), "campaign": by_campaign.json(), "clicks": clicks.json()}


def subject_body(**extra: Any) -> dict[str, Any]:
    return {"ips": [IP], "user_agents": [UA], **extra}


def test_erasure_removes_every_trace_and_keeps_the_reports(api: Api, container: Container) -> None:
    s, conversion_id, other_id = build_world(api, container)
    before = reports(api, s)
    assert Decimal(before["channel"]["models"]["linear"][0]["revenue"]) > 0
    traces = scan(container, SUBJECT_VALUES)
    tables = {table for table, _ in traces}
    assert {"visitors", "identities", "sessions", "events", "conversions", "clicks"} <= tables, tables
    assert {"fact_orders", "shopify_orders_raw", "shopify_webhooks_raw"} <= tables, tables
    stats_before = api.client.get("/api/v1/stats/overview", headers=s.headers)
    assert stats_before.status_code == 200, stats_before.text
    others_before = scan(container, (OTHER, OTHER_IP))

    answer = api.client.post("/api/v1/privacy/erasures", json=subject_body(email=EMAIL.upper()), headers=s.headers)
    assert answer.status_code == 202, answer.text
    erasure = answer.json()
    assert erasure["status"] == "pending" and erasure["id"].startswith("era_")
    drain(container)

    status = api.client.get(f"/api/v1/privacy/erasures/{erasure['id']}", headers=s.headers)
    assert status.status_code == 200, status.text
    done = status.json()
    assert done["status"] == "completed"
    assert done["counts"]["visitors"] == {"deleted": 2}
    assert done["counts"]["identities"] == {"deleted": 1}
    assert done["counts"]["conversions"] == {"anonymised": 1}
    assert done["counts"]["clicks"] == {"anonymised": 1}
    assert done["counts"]["events"]["deleted"] >= 3 and done["counts"]["sessions"]["deleted"] >= 2
    for table in ("fact_orders", "shopify_orders_raw", "shopify_webhooks_raw"):
        assert done["counts"][table] == {"anonymised": 1}, table

    assert scan(container, SUBJECT_VALUES) == set()
    stats_after = api.client.get("/api/v1/stats/overview", headers=s.headers)
    assert stats_after.json() == stats_before.json(), "report totals unchanged by an erasure"
    with container.session() as session:
        from multibuzz.db.models.commerce import FactOrder

        (order,) = session.scalars(select(FactOrder).where(FactOrder.account_id == s.tenant.account_id)).all()
    assert (order.net, order.shopify_customer_id, order.email_hash) == (Decimal("80.00"), None, None)
    assert reports(api, s) == before
    assert scan(container, (OTHER, OTHER_IP)) == others_before, "another visitor's rows are untouched"
    kept = api.client.get(f"/api/v1/conversions/{conversion_id}", headers=s.headers).json()["conversion"]
    assert kept["revenue"] == "120.50" and kept["status"] == "attributed"
    other = api.client.get(f"/api/v1/conversions/{other_id}", headers=s.headers).json()["conversion"]
    assert other["visitor_id"] == OTHER

    with container.session() as session:
        record = session.get(PrivacyRequest, erasure["id"])
        assert record is not None
        stored = json.dumps({c.name: str(getattr(record, c.name)) for c in PrivacyRequest.__table__.columns})
    assert EMAIL.lower() not in stored and len(record.subject_hash) == 64

    # Idempotent: the same job again (a redelivered message) changes nothing and keeps the counts.
    again = run_erasure(container, erasure["id"], SubjectRef("email", EMAIL, (IP,), (UA,)))
    assert again == done["counts"]
    assert reports(api, s) == before


def test_a_crashed_erasure_completes_when_run_again(api: Api, container: Container) -> None:
    s, _, _ = build_world(api, container)
    before = reports(api, s)
    answer = api.client.post("/api/v1/privacy/erasures", json=subject_body(user_id=USER_ID), headers=s.headers)
    request_id = answer.json()["id"]
    ref = SubjectRef("user_id", USER_ID, (IP,), (UA,))

    def crash(table: str, rows: int) -> None:
        if table == "conversions":
            raise RuntimeError("the process died here")

    with pytest.raises(RuntimeError):
        run_erasure(container, request_id, ref, after_batch=crash)
    half = api.client.get(f"/api/v1/privacy/erasures/{request_id}", headers=s.headers).json()
    assert half["status"] == "running" and "events" in half["counts"] and "visitors" not in half["counts"]
    assert scan(container, SUBJECT_VALUES), "half-way: the visitors and identity are still there"

    drain(container)  # the queued message: the re-run
    done = api.client.get(f"/api/v1/privacy/erasures/{request_id}", headers=s.headers).json()
    assert done["status"] == "completed" and done["attempts"] == 2
    assert done["counts"]["visitors"] == {"deleted": 2} and done["counts"]["conversions"] == {"anonymised": 1}
    assert done["counts"]["fact_orders"] == {"anonymised": 1}, "found again through the subject's visitor"
    assert scan(container, SUBJECT_VALUES) == set()
    assert reports(api, s) == before


def test_an_access_request_returns_every_row_the_scan_finds(api: Api, container: Container) -> None:
    s, _, _ = build_world(api, container)
    traces = scan(container, SUBJECT_VALUES)
    answer = api.client.post(
        "/api/v1/privacy/access-requests", json=subject_body(visitor_id=DEVICE_B), headers=s.headers
    )
    assert answer.status_code == 200, answer.text
    document = answer.json()
    listed = set()
    for table, rows in document["tables"].items():
        pk = [c.name for c in Base.metadata.tables[table].primary_key.columns]
        listed |= {(table, "|".join(str(row[k]) for k in pk)) for row in rows}
    assert traces <= listed, traces - listed
    assert {r["visitor_key"] for r in document["tables"]["visitors"]} == {DEVICE_A, DEVICE_B}
    assert not any(OTHER in json.dumps(rows) for rows in document["tables"].values())
    assert document["counts"]["identities"] == {"rows": 1}
    (identity,) = document["tables"]["identities"]
    assert EMAIL not in json.dumps(identity) and len(identity["traits"]["email_hash"]) == 64, (
        "identify stores the e-mail trait as a keyed hash"
    )


def test_who_may_file_privacy_requests(api: Api, container: Container) -> None:
    s = setup_influencer(api, "Who")
    member = api.add_member(s.tenant, "member@who.test", "member")
    body = {"user_id": USER_ID}
    assert api.client.post("/api/v1/privacy/erasures", json=body, headers=api.auth(member)).status_code == 403
    ingest_key = s.tenant.api_key  # ingest + read scopes, not privacy
    assert api.client.post("/api/v1/privacy/erasures", json=body, headers=api.auth(ingest_key)).status_code == 403
    created = api.client.post(
        "/api/v1/api-keys", json={"name": "dsr", "scopes": ["privacy"]}, headers=s.headers
    ).json()["key"]
    answer = api.client.post("/api/v1/privacy/erasures", json=body, headers=api.auth(created))
    assert answer.status_code == 202, answer.text
    assert (
        api.client.get(f"/api/v1/privacy/erasures/{answer.json()['id']}", headers=api.auth(created)).status_code == 200
    )
    both = api.client.post("/api/v1/privacy/erasures", json={"user_id": "a", "email": "a@b.c"}, headers=s.headers)
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "visitor_id"
    none = api.client.post("/api/v1/privacy/access-requests", json={}, headers=s.headers)
    assert none.status_code == 422


def test_another_tenant_can_neither_read_nor_erase_the_subject(api: Api, container: Container) -> None:
    s, _, _ = build_world(api, container)
    other = api.tenant("Attacker")
    before = scan(container, SUBJECT_VALUES)
    headers = api.auth(other.owner_token)
    document = api.client.post("/api/v1/privacy/access-requests", json=subject_body(user_id=USER_ID), headers=headers)
    assert document.status_code == 200 and document.json()["tables"] == {}
    erasure = api.client.post("/api/v1/privacy/erasures", json=subject_body(visitor_id=DEVICE_A), headers=headers)
    assert erasure.status_code == 202
    drain(container)
    assert scan(container, SUBJECT_VALUES) == before, "an erasure only ever touches its own account"
    mine = api.client.post("/api/v1/privacy/erasures", json={"user_id": USER_ID}, headers=s.headers).json()
    assert api.client.get(f"/api/v1/privacy/erasures/{mine['id']}", headers=headers).status_code == 404
