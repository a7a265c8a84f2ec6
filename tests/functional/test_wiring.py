"""The seams between features (#11 commerce, #12 exports, #15 privacy, #16 operability): the metrics the
Shopify webhook, the syncs and the export worker emit (exact EMF values), and the request id of a Shopify
webhook carried through the webhooks queue into the consumer and on to the conversion it sends.
SQLite and MariaDB."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from multibuzz.bootstrap import Container
from multibuzz.clock import FixedClock
from multibuzz.commerce.fakes.shopify import FakeShopify
from multibuzz.db.models import Export

from infra.local.dispatch import load_handler
from tests.conftest import Api
from tests.functional.test_operability import emf, totals  # noqa: F401 - the emf fixture
from tests.functional.test_shopify import (  # noqa: F401 - fixtures
    connect_with_token,
    drain,
    fake_shopify,
    new_shop,
    shopify,
)


def test_webhooks_syncs_and_exports_emit_their_metrics(
    api: Api,
    container: Container,
    shopify: FakeShopify,  # noqa: F811
    gateway: str,
    emf: list[str],  # noqa: F811
) -> None:
    tenant = api.tenant("Metered Shop")
    shop = new_shop(shopify)
    now = datetime.now(UTC).replace(microsecond=0)
    for days in (1, 2, 3):
        shopify.add_order(shop, total="40.00", created_at=now - timedelta(days=days))
    integration = connect_with_token(api, tenant, shopify, shop)
    clock = FixedClock(now)
    container.clock = clock  # durations and ages exact
    emf.clear()

    assert drain(container, "sync", "sync") == 1  # the first fill: three orders
    got = totals(emf)
    assert got[("sync", "SyncRows", (("sync_type", "shopify_7d_fill"),))] == [3]
    assert got[("sync", "SyncDuration", (("sync_type", "shopify_7d_fill"),))] == [0.0]

    emf.clear()
    clock.advance(seconds=600)
    result = load_handler("sync")({"detail-type": "multibuzz.watchdog", "detail": {}}, None)
    assert result["result"]["sync_age_seconds"] == {"shopify_orders": 600.0}  # no Meta account: no meta age
    assert totals(emf)[("sync", "SyncAge", (("sync_type", "shopify_orders"),))] == [600.0]

    emf.clear()
    order = shopify.add_order(shop, total="12.00")
    assert shopify.fire_webhook(gateway, shop, "orders/create", order).status_code == 200
    assert shopify.fire_webhook(gateway, shop, "orders/create", order, secret="wrong").status_code == 401
    body, headers = shopify.webhook_request(shop, "orders/create", order)
    del headers["X-Shopify-Webhook-Id"]
    assert httpx.post(f"{gateway}/webhooks/shopify/orders/create", content=body, headers=headers).status_code == 400
    assert drain(container, "webhooks", "webhooks") == 1
    got = totals(emf)
    assert got[("webhooks", "WebhooksReceived", ())] == [1]
    assert got[("webhooks", "WebhooksRejected", (("reason", "signature"),))] == [1]
    assert got[("webhooks", "WebhooksRejected", (("reason", "invalid"),))] == [1]
    assert ("webhooks", "ColdStarts", ()) in got

    emf.clear()
    created = api.client.post(
        "/api/v1/exports",
        json={"dataset": "orders", "from": (now - timedelta(days=5)).date().isoformat(), "to": now.date().isoformat()},
        headers=api.auth(tenant.owner_token),
    )
    assert created.status_code == 202, created.text
    assert drain(container, "exports", "exports") == 1
    with container.session() as session:
        export = session.get_one(Export, created.json()["id"])
        assert (export.status, export.rows) == ("ready", 4)  # the three of the fill and the webhook's
    got = totals(emf)
    assert got[("exports", "ExportRows", ())] == [4]
    assert got[("exports", "ExportDuration", ())] == [0.0]
    assert integration["status"] == "connected"


def test_a_webhooks_request_id_reaches_the_consumer_and_the_conversion_it_queues(
    api: Api,
    container: Container,
    shopify: FakeShopify,  # noqa: F811
    gateway: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tenant = api.tenant("Traced Shop")
    shop = new_shop(shopify)
    connect_with_token(api, tenant, shopify, shop)
    drain(container, "sync", "sync")
    order = shopify.add_order(shop, total="30.00", email="traced@example.com", financial_status="paid")
    response = shopify.fire_webhook(gateway, shop, "orders/paid", order)
    assert response.status_code == 200, response.text
    request_id = response.headers["apigw-requestid"]
    queued = container.local_queue.receive("webhooks", visibility_timeout=0)
    assert [m.attributes for m in queued] == [{"correlation_id": request_id}]
    caplog.set_level(logging.INFO)
    caplog.clear()
    assert drain(container, "webhooks", "webhooks") == 1
    stored = [vars(r) for r in caplog.records if r.getMessage() == "webhook stored"]
    assert [(line["correlation_id"], line["topic"]) for line in stored] == [(request_id, "orders/paid")]
    conversions = container.local_queue.receive("ingest", visibility_timeout=0)
    assert len(conversions) == 1 and conversions[0].attributes == {"correlation_id": request_id}
