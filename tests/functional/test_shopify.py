"""Shopify end to end against the fake Shopify (a real HTTP server) and the local gateway, both databases.

Connect (pasted token and OAuth), signed webhooks through the gateway and the real consumer, syncs
(7-day fill paginated and bulk, fresh, interrupted and resumed, throttled), aggregates, conversions.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from multibuzz.bootstrap import Container
from multibuzz.commerce import integrations as svc
from multibuzz.commerce.fakes.shopify import FakeShopify, serve
from multibuzz.commerce.shopify import sync, webhooks
from multibuzz.db.models import Conversion, Visitor, VisitSession
from multibuzz.db.models.commerce import (
    DailyShopifyMetrics,
    FactOrder,
    Integration,
    ShopifyOrderRaw,
    ShopifyWebhookRaw,
)
from sqlalchemy import func, select

from infra.local.dispatch import deliver_once, load_handler
from tests.conftest import Api, Tenant

SECRET = "fake-api-secret"


@pytest.fixture(scope="session")
def fake_shopify() -> Iterator[FakeShopify]:
    fake = FakeShopify(api_key="fake-api-key", api_secret=SECRET)
    _, server, thread = serve(fake)
    yield fake
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def shopify(container: Container, fake_shopify: FakeShopify, gateway: str) -> FakeShopify:
    values = {
        "shopify_api_key": "fake-api-key",
        "shopify_api_secret": __import__("pydantic").SecretStr(SECRET),
        "shopify_base_url": f"{fake_shopify.base_url}/{{shop}}",
        "public_base_url": gateway,
        "conversion_lookup_grace_seconds": 0.0,
    }
    for key, value in values.items():
        object.__setattr__(container.settings, key, value)
    webhooks.directory.forget()
    return fake_shopify


def new_shop(fake: FakeShopify) -> str:
    domain = f"s{uuid.uuid4().hex[:10]}.myshopify.com"
    fake.shop(domain)
    return domain


def drain(container: Container, queue: str, function: str) -> int:
    handler = load_handler(function)
    total = 0
    while (report := deliver_once(container.local_queue, queue, handler, batch_size=10, backoff_seconds=0)).received:
        total += report.received
    return total


def connect_with_token(api: Api, tenant: Tenant, fake: FakeShopify, shop: str) -> dict[str, Any]:
    token = fake.issue_token(shop)
    response = api.client.post(
        "/api/v1/integrations/shopify",
        json={"shop": shop, "access_token": token},
        headers=api.auth(tenant.owner_token),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def count(container: Container, model: Any, **where: Any) -> int:
    with container.session() as session:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return int(session.scalar(query) or 0)


def fact(container: Container, integration_id: str, order_id: Any) -> FactOrder:
    with container.session() as session:
        row = session.scalars(
            select(FactOrder).where(
                FactOrder.integration_id == integration_id, FactOrder.shopify_order_id == str(order_id)
            )
        ).one()
        session.expunge(row)
        return row


def conversion_for(container: Container, account_id: str, order_id: Any) -> Conversion | None:
    with container.session() as session:
        row = session.scalars(
            select(Conversion).where(
                Conversion.account_id == account_id, Conversion.idempotency_key == f"shopify:{order_id}"
            )
        ).one_or_none()
        if row is not None:
            session.expunge(row)
        return row


def no_sleep(waits: list[float]) -> Any:
    return waits.append


# -- connect --------------------------------------------------------------------------------------------


def test_pasted_token_connects_registers_webhooks_and_fills_then_fresh_picks_only_changes(
    api: Api, container: Container, shopify: FakeShopify
) -> None:
    tenant = api.tenant("Token Shop")
    shop = new_shop(shopify)
    now = datetime.now(UTC)
    recent = [shopify.add_order(shop, total="40.00", created_at=now - timedelta(days=d)) for d in (1, 2, 3)]
    shopify.add_order(shop, total="99.00", created_at=now - timedelta(days=20))  # outside the 7-day fill
    integration = connect_with_token(api, tenant, shopify, shop)
    assert integration["status"] == "connected" and integration["connect_method"] == "token"
    assert "access_token" not in str(integration)
    topics = {w["topic"] for w in shopify.shop(shop).webhooks}
    assert topics == {
        "ORDERS_CREATE",
        "ORDERS_UPDATED",
        "ORDERS_PAID",
        "ORDERS_CANCELLED",
        "REFUNDS_CREATE",
        "APP_UNINSTALLED",
    }
    assert all(w["callbackUrl"].startswith(container.settings.public_base_url) for w in shopify.shop(shop).webhooks)

    assert drain(container, "sync", "sync") == 1  # the first fill, queued by the connection
    assert count(container, FactOrder, integration_id=integration["id"]) == 3

    # Fresh: one order changes, one is new; only those two are fetched and written.
    later = datetime.now(UTC) + timedelta(minutes=5)
    shopify.update_order(shop, recent[0]["id"], later, fulfillment_status="fulfilled")
    shopify.add_order(shop, total="10.00", created_at=later, updated_at=later)
    result = sync.run(container, integration["id"], "shopify_fresh", "schedule")
    assert result["status"] == "succeeded"
    assert result["rows"] == 2, result
    assert count(container, FactOrder, integration_id=integration["id"]) == 4
    assert fact(container, integration["id"], recent[0]["id"]).fulfillment_status == "fulfilled"

    status = api.client.get("/api/v1/settings/sync-status", headers=api.auth(tenant.owner_token)).json()["data"]
    fresh = next(s for s in status if s["sync_type"] == "shopify_fresh")
    assert fresh["last_run_status"] == "succeeded" and fresh["rows_last_run"] == 2 and fresh["data_fresh_to"]


def test_pasted_token_refused_by_the_store_is_a_422(api: Api, shopify: FakeShopify) -> None:
    tenant = api.tenant("Bad Token")
    shop = new_shop(shopify)
    response = api.client.post(
        "/api/v1/integrations/shopify",
        json={"shop": shop, "access_token": "shpat_wrong"},
        headers=api.auth(tenant.owner_token),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "access_token"
    bad_domain = api.client.post(
        "/api/v1/integrations/shopify",
        json={"shop": "evil.example.com", "access_token": "x"},
        headers=api.auth(tenant.owner_token),
    )
    assert bad_domain.status_code == 422 and bad_domain.json()["errors"][0]["field"] == "shop"


def _authorize(api: Api, tenant: Tenant, shop: str) -> dict[str, str]:
    start = api.client.get(
        "/api/v1/integrations/shopify/install", params={"shop": shop}, headers=api.auth(tenant.owner_token)
    )
    assert start.status_code == 200, start.text
    authorize = httpx.get(start.json()["authorize_url"], follow_redirects=False)
    assert authorize.status_code == 302
    location = urlsplit(authorize.headers["location"])
    assert location.path == "/api/v1/integrations/shopify/callback"
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def test_oauth_install_and_callback_connect_the_store(api: Api, container: Container, shopify: FakeShopify) -> None:
    tenant = api.tenant("OAuth Shop")
    shop = new_shop(shopify)
    params = _authorize(api, tenant, shop)
    callback = api.client.get("/api/v1/integrations/shopify/callback", params=params)
    assert callback.status_code == 200, callback.text
    body = callback.json()
    assert body["external_id"] == shop and body["connect_method"] == "oauth" and body["status"] == "connected"
    with container.session() as session:
        token = svc.read_secret(session, container.secret_box, body["id"])
    assert token in shopify.shop(shop).tokens
    assert len(shopify.shop(shop).webhooks) == 6


def test_oauth_callback_with_bad_hmac_or_state_is_refused(api: Api, container: Container, shopify: FakeShopify) -> None:
    tenant = api.tenant("OAuth Refused")
    shop = new_shop(shopify)
    params = _authorize(api, tenant, shop)
    tampered = {**params, "hmac": "0" * 64}
    assert api.client.get("/api/v1/integrations/shopify/callback", params=tampered).status_code == 401
    forged_state = {**params, "state": "eyJhIjoiYWNjX3gifQ.AAAA"}
    from multibuzz.commerce.fakes.shopify import sign_query

    forged_state["hmac"] = sign_query(forged_state, SECRET)  # a genuine HMAC, but a state we never issued
    response = api.client.get("/api/v1/integrations/shopify/callback", params=forged_state)
    assert response.status_code == 401 and "state" in response.text
    other_shop = {**params, "shop": new_shop(shopify)}
    other_shop["hmac"] = sign_query(other_shop, SECRET)
    assert api.client.get("/api/v1/integrations/shopify/callback", params=other_shop).status_code == 401
    assert count(container, Integration, account_id=tenant.account_id) == 0


# -- webhooks -------------------------------------------------------------------------------------------


@pytest.fixture
def connected(api: Api, container: Container, shopify: FakeShopify) -> tuple[Tenant, str, str]:
    tenant = api.tenant(f"Hooks {uuid.uuid4().hex[:6]}")
    shop = new_shop(shopify)
    integration = connect_with_token(api, tenant, shopify, shop)
    drain(container, "sync", "sync")
    return tenant, shop, integration["id"]


def test_signed_webhook_delivered_three_times_is_stored_once(
    api: Api, container: Container, shopify: FakeShopify, connected: tuple[Tenant, str, str], gateway: str
) -> None:
    _tenant, shop, integration_id = connected
    order = shopify.add_order(shop, total="55.00")
    for _ in range(3):
        response = shopify.fire_webhook(gateway, shop, "orders/create", order, webhook_id="wh-triple-1")
        assert response.status_code == 200, response.text
    drain(container, "webhooks", "webhooks")
    assert count(container, ShopifyWebhookRaw, integration_id=integration_id) == 1
    assert count(container, ShopifyOrderRaw, integration_id=integration_id) == 1
    assert fact(container, integration_id, order["id"]).net == Decimal("55.00")


def test_bad_or_missing_signature_is_401_and_nothing_stored(
    api: Api, container: Container, shopify: FakeShopify, connected: tuple[Tenant, str, str], gateway: str
) -> None:
    _, shop, integration_id = connected
    order = shopify.add_order(shop)
    bad = shopify.fire_webhook(gateway, shop, "orders/create", order, secret="not-the-secret")
    assert bad.status_code == 401
    body, headers = shopify.webhook_request(shop, "orders/create", order)
    del headers["X-Shopify-Hmac-Sha256"]
    missing = httpx.post(f"{gateway}/webhooks/shopify/orders/create", content=body, headers=headers)
    assert missing.status_code == 401
    assert drain(container, "webhooks", "webhooks") == 0
    assert count(container, ShopifyWebhookRaw, integration_id=integration_id) == 0


def test_lambda_entry_and_the_awaited_invoke_answer_the_same(
    container: Container, shopify: FakeShopify, connected: tuple[Tenant, str, str]
) -> None:
    """The gateway awaits ``invoke`` on its loop; Lambda calls the handler. Same answers, same messages."""
    import asyncio

    from multibuzz.commerce.fakes.shopify import sign_body

    from functions.webhooks.handler import lambda_handler
    from infra.local.apigw import Route, build_event

    _, shop, integration_id = connected
    order = shopify.add_order(shop, total="12.00")
    route = Route.parse("POST /webhooks/shopify/{topic+}", "webhooks")

    def event(webhook_id: str, secret: str | None, body: bytes | None) -> dict[str, Any]:
        raw, headers = shopify.webhook_request(shop, "orders/create", order, webhook_id=webhook_id, secret=secret)
        if body is not None:  # a signed body that is not a JSON object
            raw, headers["X-Shopify-Hmac-Sha256"] = body, sign_body(body, SECRET)
        return build_event(
            route=route,
            path_params={"topic": "orders/create"},
            method="POST",
            path="/webhooks/shopify/orders/create",
            query_string="",
            headers=list(headers.items()),
            body=raw,
            source_ip="127.0.0.1",
        )

    cases = [("ok", None, None, 200), ("bad-hmac", "wrong", None, 401), ("not-json", None, b"{nope", 400)]
    cases += [("list", None, b"[1]", 400), ("deep", None, b"[" * 100_000, 400)]
    for name, secret, body, status in cases:
        called = lambda_handler(event(f"{name}-a", secret, body), None)
        awaited = asyncio.run(lambda_handler.invoke(event(f"{name}-b", secret, body), None))
        assert called == awaited and called["statusCode"] == status, (name, called)
    assert drain(container, "webhooks", "webhooks") == 2  # the two good deliveries (ids ok-a and ok-b)
    assert count(container, ShopifyWebhookRaw, integration_id=integration_id) == 2


def test_shop_directory_sees_a_disconnect_elsewhere_within_its_ttl(
    container: Container, connected: tuple[Tenant, str, str]
) -> None:
    """The stated bound: a disconnect made by another process (no ``forget`` here) is seen after 5 s."""
    _, shop, integration_id = connected
    now = [1000.0]
    directory = webhooks.ShopDirectory(clock=lambda: now[0])
    assert [t.integration_id for t in directory.lookup(container, shop)] == [integration_id]
    with container.session() as session:
        integration = session.get(Integration, integration_id)
        assert integration is not None
        svc.disconnect(session, svc.Tools(container.clock, container.ids, container.secret_box), integration)
        session.commit()
    now[0] += webhooks._CACHE_SECONDS - 0.001
    assert [t.integration_id for t in directory.lookup(container, shop)] == [integration_id]  # still cached
    now[0] += 0.001
    assert directory.lookup(container, shop) == []  # the bound: 5 s


def test_unknown_shop_is_200_with_nothing_stored(container: Container, shopify: FakeShopify, gateway: str) -> None:
    response = shopify.fire_webhook(gateway, "nobody.myshopify.com", "orders/create", {"id": 1})
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert drain(container, "webhooks", "webhooks") == 0
    assert count(container, ShopifyWebhookRaw) == 0


def test_out_of_order_updates_keep_the_newest(
    container: Container, shopify: FakeShopify, connected: tuple[Tenant, str, str], gateway: str
) -> None:
    _, shop, integration_id = connected
    t0 = datetime.now(UTC).replace(microsecond=0)
    order = shopify.add_order(shop, total="80.00", created_at=t0)
    newer = {
        **order,
        "updated_at": (t0 + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "fulfillment_status": "fulfilled",
    }
    older = {
        **order,
        "updated_at": (t0 + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "fulfillment_status": "partial",
    }
    assert shopify.fire_webhook(gateway, shop, "orders/updated", newer).status_code == 200
    drain(container, "webhooks", "webhooks")
    assert shopify.fire_webhook(gateway, shop, "orders/updated", older).status_code == 200
    drain(container, "webhooks", "webhooks")
    row = fact(container, integration_id, order["id"])
    assert row.fulfillment_status == "fulfilled"
    assert row.order_updated_at == t0 + timedelta(minutes=10)


def test_refund_and_cancellation_reduce_net_and_the_conversion(
    container: Container, shopify: FakeShopify, connected: tuple[Tenant, str, str], gateway: str
) -> None:
    tenant, shop, integration_id = connected
    order = shopify.add_order(shop, total="100.00")
    shopify.fire_webhook(gateway, shop, "orders/paid", order)
    drain(container, "webhooks", "webhooks")
    drain(container, "ingest", "attribution")
    conversion = conversion_for(container, tenant.account_id, order["id"])
    assert conversion is not None and conversion.revenue == Decimal("100.00") and conversion.status == "attributed"
    assert conversion.properties["order_id"] == str(order["id"])

    refund = shopify.refund(shop, order["id"], "30.00", datetime.now(UTC) + timedelta(minutes=1))
    assert shopify.fire_webhook(gateway, shop, "refunds/create", refund).status_code == 200
    assert shopify.fire_webhook(gateway, shop, "refunds/create", refund).status_code == 200  # a retry: once only
    drain(container, "webhooks", "webhooks")
    drain(container, "ingest", "attribution")
    row = fact(container, integration_id, order["id"])
    assert (row.refunds, row.net) == (Decimal("30.00"), Decimal("70.00"))
    conversion = conversion_for(container, tenant.account_id, order["id"])
    assert conversion is not None and conversion.revenue == Decimal("70.00") and conversion.attribution_version == 2
    from multibuzz.db.models import AttributionCredit

    with container.session() as session:
        credited = session.scalar(
            select(func.sum(AttributionCredit.revenue_credit)).where(
                AttributionCredit.conversion_id == conversion.id,
                AttributionCredit.version == 2,
                AttributionCredit.model == "last_touch",
            )
        )
    assert Decimal(str(credited)) == Decimal("70.00")

    cancelled = shopify.update_order(
        shop, order["id"], datetime.now(UTC) + timedelta(minutes=2), cancelled_at="2026-01-01T00:00:00Z"
    )
    shopify.fire_webhook(gateway, shop, "orders/cancelled", cancelled)
    drain(container, "webhooks", "webhooks")
    drain(container, "ingest", "attribution")
    assert fact(container, integration_id, order["id"]).net == Decimal("0")
    conversion = conversion_for(container, tenant.account_id, order["id"])
    assert conversion is not None and conversion.revenue == Decimal("0")


def test_app_uninstalled_disconnects_and_deletes_the_token(
    api: Api, container: Container, shopify: FakeShopify, connected: tuple[Tenant, str, str], gateway: str
) -> None:
    tenant, shop, integration_id = connected
    assert shopify.fire_webhook(gateway, shop, "app/uninstalled", {"id": 1, "domain": shop}).status_code == 200
    drain(container, "webhooks", "webhooks")
    with container.session() as session:
        assert svc.read_secret(session, container.secret_box, integration_id) is None
        assert session.get(Integration, integration_id).status == "disconnected"  # type: ignore[union-attr]
    listed = api.client.get("/api/v1/integrations", headers=api.auth(tenant.owner_token)).json()["data"]
    assert [i["status"] for i in listed] == ["disconnected"]


def test_customers_redact_erases_that_customers_order_pii(
    container: Container, shopify: FakeShopify, connected: tuple[Tenant, str, str], gateway: str
) -> None:
    """customers/redact goes through the privacy service: an erasure request (by e-mail, with the customer id)
    queued and run by the privacy consumer; the orders keep their money."""
    from multibuzz.db.models import PrivacyRequest

    tenant, shop, integration_id = connected
    mine = shopify.add_order(
        shop, customer_id=777, email="gone@example.com", landing_site="/?utm_source=x", total="70.00"
    )
    other = shopify.add_order(shop, customer_id=778, email="stays@example.com")
    for order in (mine, other):
        shopify.fire_webhook(gateway, shop, "orders/create", order)
    drain(container, "webhooks", "webhooks")
    redact = {
        "shop_domain": shop,
        "customer": {"id": 777, "email": "gone@example.com"},
        "orders_to_redact": [mine["id"]],
    }
    assert shopify.fire_webhook(gateway, shop, "customers/redact", redact).status_code == 200
    drain(container, "webhooks", "webhooks")
    assert drain(container, "privacy", "attribution") == 1  # the erasure job
    gone, stays = fact(container, integration_id, mine["id"]), fact(container, integration_id, other["id"])
    assert (gone.customer_ref, gone.email_hash, gone.landing_site, gone.shopify_customer_id) == (None,) * 4
    assert gone.net == Decimal("70.00"), "revenue stays"
    assert stays.customer_ref == "shopify:778"
    with container.session() as session:
        payload = session.scalar(
            select(ShopifyOrderRaw.payload).where(ShopifyOrderRaw.shopify_order_id == str(mine["id"]))
        )
        stored_webhooks = session.scalars(
            select(ShopifyWebhookRaw.payload).where(ShopifyWebhookRaw.integration_id == integration_id)
        ).all()
        request = session.scalars(select(PrivacyRequest).where(PrivacyRequest.account_id == tenant.account_id)).one()
    assert "gone@example.com" not in str(payload) and payload["_erased"] is True
    assert "gone@example.com" not in str(stored_webhooks) and "stays@example.com" in str(stored_webhooks)
    assert (request.kind, request.status, request.requested_by) == ("erasure", "completed", "shopify:customers/redact")
    assert request.counts["fact_orders"] == {"anonymised": 1} and request.counts["shopify_orders_raw"] == {
        "anonymised": 1
    }


def test_shop_redact_anonymises_every_order_of_the_store_and_keeps_revenue(
    container: Container, shopify: FakeShopify, connected: tuple[Tenant, str, str], gateway: str
) -> None:
    _, shop, integration_id = connected
    orders = [shopify.add_order(shop, customer_id=900 + i, email=f"c{i}@example.com", total="10.00") for i in range(2)]
    for order in orders:
        shopify.fire_webhook(gateway, shop, "orders/create", order)
    drain(container, "webhooks", "webhooks")
    assert shopify.fire_webhook(gateway, shop, "shop/redact", {"shop_domain": shop}).status_code == 200
    drain(container, "webhooks", "webhooks")
    facts = [fact(container, integration_id, o["id"]) for o in orders]
    assert [(f.customer_ref, f.email_hash, f.net) for f in facts] == [(None, None, Decimal("10.00"))] * 2
    with container.session() as session:
        stored = [
            *session.scalars(select(ShopifyOrderRaw.payload).where(ShopifyOrderRaw.integration_id == integration_id)),
            *session.scalars(
                select(ShopifyWebhookRaw.payload).where(ShopifyWebhookRaw.integration_id == integration_id)
            ),
        ]
    assert "@example.com" not in str(stored)
    assert count(container, FactOrder, integration_id=integration_id) == 2


def test_customers_data_request_stores_the_access_document_for_the_owner(
    container: Container, shopify: FakeShopify, connected: tuple[Tenant, str, str], gateway: str
) -> None:
    import json

    from multibuzz.db.models import PrivacyRequest

    tenant, shop, _ = connected
    order = shopify.add_order(shop, customer_id=555, email="asks@example.com", total="25.00")
    shopify.fire_webhook(gateway, shop, "orders/create", order)
    drain(container, "webhooks", "webhooks")
    ask = {"shop_domain": shop, "customer": {"id": 555, "email": "asks@example.com"}, "orders_requested": [order["id"]]}
    assert shopify.fire_webhook(gateway, shop, "customers/data_request", ask, webhook_id="dr-1").status_code == 200
    drain(container, "webhooks", "webhooks")
    with container.session() as session:
        kept = session.scalar(select(ShopifyWebhookRaw.payload).where(ShopifyWebhookRaw.webhook_id == "dr-1"))
        request = session.scalars(select(PrivacyRequest).where(PrivacyRequest.account_id == tenant.account_id)).one()
    assert kept["document_key"] == f"privacy/{tenant.account_id}/access/shopify-dr-1.json"
    assert "asks@example.com" not in str(kept)
    document = json.loads(container.objects.get(kept["document_key"]))
    assert document["id"] == request.id and (request.kind, request.status) == ("access", "completed")
    (row,) = document["tables"]["fact_orders"]
    assert (row["shopify_order_id"], Decimal(row["net"]), row["shopify_customer_id"]) == (
        str(order["id"]),
        Decimal("25.00"),
        "555",
    )
    assert document["counts"]["shopify_orders_raw"] == {"rows": 1}


def test_a_failed_compliance_action_is_done_again_on_redelivery(
    container: Container, shopify: FakeShopify, connected: tuple[Tenant, str, str], gateway: str
) -> None:
    """The access document cannot be stored (object store down): the delivery fails, is not remembered as
    handled, and the queue's redelivery stores it."""
    import json

    _, shop, _ = connected
    ask = {"shop_domain": shop, "customer": {"id": 556, "email": "later@example.com"}, "orders_requested": []}
    assert shopify.fire_webhook(gateway, shop, "customers/data_request", ask, webhook_id="dr-2").status_code == 200
    working = container.objects

    class Down:
        def put(self, key: str, data: bytes, content_type: str) -> None:
            raise OSError("object store unavailable")

    container.__dict__["objects"] = Down()
    report = deliver_once(container.local_queue, "webhooks", load_handler("webhooks"), batch_size=1, backoff_seconds=0)
    assert report.received == 1 and report.succeeded == 0
    assert count(container, ShopifyWebhookRaw, webhook_id="dr-2") == 0, "not remembered as handled"
    container.__dict__["objects"] = working
    assert drain(container, "webhooks", "webhooks") == 1
    with container.session() as session:
        kept = session.scalar(select(ShopifyWebhookRaw.payload).where(ShopifyWebhookRaw.webhook_id == "dr-2"))
    assert json.loads(container.objects.get(kept["document_key"]))["subject_type"] == "email"


# -- attribution ----------------------------------------------------------------------------------------


def _visitor_with_session(container: Container, account_id: str, key: str, channel: str) -> None:
    now = container.clock.now()
    with container.session() as session:
        visitor = Visitor(
            id=container.ids.new("vis"), account_id=account_id, visitor_key=key, first_seen_at=now, last_seen_at=now
        )
        session.add(visitor)
        session.flush()
        started = now - timedelta(days=1)
        session.add(
            VisitSession(
                id=container.ids.new("ses"),
                account_id=account_id,
                visitor_id=visitor.id,
                started_at=started,
                last_activity_at=started,
                channel=channel,
                utm_source="newsletter",
                page_view_count=1,
                is_bot=False,
                created_at=started,
            )
        )
        session.commit()


def test_order_with_mbuzz_vid_is_attributed_to_that_visitors_journey(
    container: Container, shopify: FakeShopify, connected: tuple[Tenant, str, str], gateway: str
) -> None:
    tenant, shop, _ = connected
    key = "a" * 64
    _visitor_with_session(container, tenant.account_id, key, "email")
    order = shopify.add_order(shop, total="120.00", note_attributes={"_mbuzz_vid": key})
    shopify.fire_webhook(gateway, shop, "orders/create", order)
    drain(container, "webhooks", "webhooks")
    drain(container, "ingest", "attribution")
    conversion = conversion_for(container, tenant.account_id, order["id"])
    assert conversion is not None and conversion.visitor_id is not None and conversion.status == "attributed"
    from multibuzz.db.models import AttributionCredit

    with container.session() as session:
        channels = set(
            session.scalars(select(AttributionCredit.channel).where(AttributionCredit.conversion_id == conversion.id))
        )
    assert channels == {"email"}


def test_order_with_an_influencers_discount_code_credits_that_influencer(
    api: Api, container: Container, shopify: FakeShopify, connected: tuple[Tenant, str, str], gateway: str
) -> None:
    tenant, shop, _ = connected
    auth = api.auth(tenant.owner_token)
    influencer = api.client.post("/api/v1/influencers", json={"name": "Ana", "handle": "ana"}, headers=auth).json()
    coupon = api.client.post("/api/v1/coupons", json={"code": "ANA15", "influencer_id": influencer["id"]}, headers=auth)
    assert coupon.status_code == 201, coupon.text
    order = shopify.add_order(shop, total="60.00", discount="9.00", discount_codes=["ana15"])
    shopify.fire_webhook(gateway, shop, "orders/create", order)
    drain(container, "webhooks", "webhooks")
    drain(container, "ingest", "attribution")
    conversion = conversion_for(container, tenant.account_id, order["id"])
    assert conversion is not None and conversion.influencer_id == influencer["id"]
    assert conversion.influencer_method is not None and conversion.revenue == Decimal("51.00")


# -- syncs ----------------------------------------------------------------------------------------------


def test_interrupted_sync_resumes_without_gaps_or_duplicates_and_failure_is_visible(
    api: Api, container: Container, shopify: FakeShopify, connected: tuple[Tenant, str, str]
) -> None:
    tenant, shop, integration_id = connected
    object.__setattr__(container.settings, "shopify_page_size", 2)
    base = datetime.now(UTC) + timedelta(minutes=1)
    orders = [shopify.add_order(shop, total="10.00", created_at=base + timedelta(seconds=i)) for i in range(5)]
    state = shopify.shop(shop)
    state.order_queries, state.fail_after_queries = 0, 1  # the second page fails
    failed = sync.run(container, integration_id, "shopify_fresh", "manual")
    assert failed["status"] == "failed" and "HTTP 500" in failed["error"]
    assert count(container, FactOrder, integration_id=integration_id) == 2
    status = api.client.get("/api/v1/settings/sync-status", headers=api.auth(tenant.owner_token)).json()["data"]
    fresh = next(s for s in status if s["sync_type"] == "shopify_fresh")
    assert fresh["last_run_status"] == "failed" and "Shopify answered HTTP 500" in fresh["last_error"]

    state.fail_after_queries = None
    state.searches.clear()
    done = sync.run(container, integration_id, "shopify_fresh", "manual")
    assert done["status"] == "succeeded"
    assert count(container, FactOrder, integration_id=integration_id) == 5
    assert count(container, ShopifyOrderRaw, integration_id=integration_id) == 5
    assert {fact(container, integration_id, o["id"]).net for o in orders} == {Decimal("10.00")}
    # It resumed from the committed cursor (the last order of the committed page), not from the start.
    assert state.searches[0] == f"updated_at:>='{orders[1]['updated_at']}'"


def test_throttled_queries_back_off_and_complete(
    container: Container, shopify: FakeShopify, connected: tuple[Tenant, str, str]
) -> None:
    _, shop, integration_id = connected
    shopify.add_order(shop, created_at=datetime.now(UTC) + timedelta(minutes=1))
    shopify.shop(shop).throttle_next = 2
    waits: list[float] = []
    result = sync.run(container, integration_id, "shopify_fresh", "manual", sleep=waits.append)
    assert result["status"] == "succeeded" and result["rows"] >= 1
    assert len(waits) >= 2 and all(w > 0 for w in waits)


def test_large_fill_uses_a_bulk_operation(
    container: Container, shopify: FakeShopify, connected: tuple[Tenant, str, str]
) -> None:
    _, shop, integration_id = connected
    for i in range(6):
        shopify.add_order(shop, total="5.00", created_at=datetime.now(UTC) - timedelta(hours=i + 1))
    object.__setattr__(container.settings, "shopify_bulk_threshold", 3)
    result = sync.run(container, integration_id, "shopify_7d_fill", "manual", sleep=lambda _s: None)
    assert result["status"] == "succeeded" and result["rows"] == 6
    assert shopify.shop(shop).bulk, "a bulk operation was run"
    assert count(container, FactOrder, integration_id=integration_id) == 6


def test_daily_aggregates_reconcile_exactly_with_fact_rows(
    api: Api, container: Container, shopify: FakeShopify, connected: tuple[Tenant, str, str], gateway: str
) -> None:
    _tenant, shop, integration_id = connected
    now = datetime.now(UTC)
    for i, total in enumerate(["10.10", "20.20", "30.30", "44.44"]):
        shopify.add_order(shop, total=total, created_at=now - timedelta(days=i % 3, hours=1))
    sync.run(container, integration_id, "shopify_7d_fill", "manual")
    victim = next(iter(shopify.shop(shop).orders.values()))
    refund = shopify.refund(shop, victim["id"], "5.05", now + timedelta(minutes=1))
    shopify.fire_webhook(gateway, shop, "refunds/create", refund)
    drain(container, "webhooks", "webhooks")
    sync.run(container, integration_id, "shopify_7d_fill", "manual")  # idempotent rebuild
    with container.session() as session:
        facts = session.execute(
            select(FactOrder.order_date, func.sum(FactOrder.net), func.sum(FactOrder.refunds), func.count())
            .where(FactOrder.integration_id == integration_id)
            .group_by(FactOrder.order_date)
        ).all()
        daily = {
            r.date: r
            for r in session.scalars(
                select(DailyShopifyMetrics).where(DailyShopifyMetrics.integration_id == integration_id)
            )
        }
    assert len(daily) == len(facts) >= 2
    for day, net, refunds, orders in facts:
        assert daily[day].revenue_net == Decimal(str(net))
        assert daily[day].refunds == Decimal(str(refunds))
        assert daily[day].orders == orders
    assert sum(d.refunds for d in daily.values()) == Decimal("5.05")


def test_orders_api_filters_and_pages(
    api: Api, container: Container, shopify: FakeShopify, connected: tuple[Tenant, str, str]
) -> None:
    tenant, shop, integration_id = connected
    for i in range(5):
        shopify.add_order(
            shop,
            total="12.00",
            created_at=datetime.now(UTC) - timedelta(hours=i + 1),
            discount_codes=["SUMMER"] if i == 0 else None,
        )
    sync.run(container, integration_id, "shopify_7d_fill", "manual")
    auth = api.auth(tenant.owner_token)
    first = api.client.get("/api/v1/orders", params={"limit": 3}, headers=auth).json()
    assert len(first["data"]) == 3 and first["next_cursor"]
    second = api.client.get("/api/v1/orders", params={"limit": 3, "cursor": first["next_cursor"]}, headers=auth).json()
    ids = [o["id"] for o in first["data"] + second["data"]]
    assert len(ids) == len(set(ids)) == 5
    assert first["data"][0]["net"] == "12.00" or first["data"][0]["net"] == "12.0000"
    coded = api.client.get("/api/v1/orders", params={"discount_code": "summer"}, headers=auth).json()["data"]
    assert len(coded) == 1
    other = api.tenant("Other Reader")
    assert api.client.get("/api/v1/orders", headers=api.auth(other.owner_token)).json()["data"] == []


def test_manual_sync_queues_a_run_that_the_sync_function_executes(
    api: Api, container: Container, shopify: FakeShopify, connected: tuple[Tenant, str, str]
) -> None:
    tenant, shop, integration_id = connected
    shopify.add_order(shop, created_at=datetime.now(UTC) + timedelta(minutes=1))
    response = api.client.post(
        "/api/v1/settings/manual-sync", json={"type": "shopify_fresh"}, headers=api.auth(tenant.owner_token)
    )
    assert response.status_code == 202 and response.json()["queued"] == [integration_id]
    assert drain(container, "sync", "sync") == 1
    bad = api.client.post("/api/v1/settings/manual-sync", json={"type": "nope"}, headers=api.auth(tenant.owner_token))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "type"


def test_custom_app_webhooks_verify_with_that_apps_secret(
    api: Api, container: Container, shopify: FakeShopify, gateway: str
) -> None:
    tenant = api.tenant("Custom App")
    shop = new_shop(shopify)
    token = shopify.issue_token(shop)
    response = api.client.post(
        "/api/v1/integrations/shopify",
        json={"shop": shop, "access_token": token, "api_secret": "custom-app-secret"},
        headers=api.auth(tenant.owner_token),
    )
    assert response.status_code == 201, response.text
    assert "custom-app-secret" not in response.text
    drain(container, "sync", "sync")
    order = shopify.add_order(shop, total="20.00")
    assert shopify.fire_webhook(gateway, shop, "orders/create", order, secret="custom-app-secret").status_code == 200
    other = new_shop(shopify)  # the same custom secret means nothing for a store that did not register it
    assert shopify.fire_webhook(gateway, other, "orders/create", order, secret="custom-app-secret").status_code == 401
    drain(container, "webhooks", "webhooks")
    assert fact(container, response.json()["id"], order["id"]).net == Decimal("20.00")


def test_order_without_mbuzz_vid_uses_the_customers_identity_journey(
    container: Container, shopify: FakeShopify, connected: tuple[Tenant, str, str], gateway: str
) -> None:
    from multibuzz.db.models import AttributionCredit, Identity

    tenant, shop, _ = connected
    now = container.clock.now()
    with container.session() as session:
        identity = Identity(
            id=container.ids.new("idt"),
            account_id=tenant.account_id,
            user_id="4242",
            traits={},
            created_at=now,
            updated_at=now,
        )
        session.add(identity)
        session.commit()
        identity_id = identity.id
    _visitor_with_session(container, tenant.account_id, "b" * 64, "paid_search")
    with container.session() as session:
        visitor = session.scalars(select(Visitor).where(Visitor.visitor_key == "b" * 64)).one()
        visitor.identity_id = identity_id
        session.commit()
    order = shopify.add_order(shop, total="75.00", customer_id=4242, email="someone@example.com")
    shopify.fire_webhook(gateway, shop, "orders/create", order)
    drain(container, "webhooks", "webhooks")
    drain(container, "ingest", "attribution")
    conversion = conversion_for(container, tenant.account_id, order["id"])
    assert conversion is not None and conversion.identity_id == identity_id and conversion.visitor_id is None
    with container.session() as session:
        channels = set(
            session.scalars(select(AttributionCredit.channel).where(AttributionCredit.conversion_id == conversion.id))
        )
    assert channels == {"paid_search"}
