"""``bulk_insert`` (the fill's plain INSERT): a bulk result line is stored as the same JSON document it was,
aware datetimes as naive UTC, NULLs and Decimals as they are — on SQLite (Core) and MariaDB (DB-API)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, cast

from multibuzz.bootstrap import Container
from multibuzz.commerce import integrations as svc
from multibuzz.commerce.shopify.client import JsonLine
from multibuzz.commerce.shopify.store import bulk_insert
from multibuzz.db.models import Account, Conversion
from multibuzz.db.models.commerce import ShopifyOrderRaw
from sqlalchemy import Table, select

LINE = '{"id": "gid://shopify/Order/7", "name": "#7", "note": "caf\\u00e9 \\"x\\"", "tags": [1, 2.5, null]}'


def test_a_line_goes_in_as_the_same_document_and_times_as_utc(container: Container) -> None:
    tools = svc.Tools(container.clock, container.ids, container.secret_box)
    berlin = timezone(timedelta(hours=1))
    with container.session() as session:
        session.add(Account(id="acc_bulk", name="bulk", slug="bulk", created_at=container.clock.now()))
        session.flush()
        integration = svc.connect(session, tools, account_id="acc_bulk", type="shopify", external_id="b.myshopify.com")
        row: dict[str, Any] = {
            "account_id": "acc_bulk",
            "integration_id": integration.id,
            "shopify_order_id": "7",
            "order_updated_at": datetime(2026, 3, 1, 13, 0, tzinfo=berlin),
            "source": "sync",
            "fetched_at": datetime(2026, 3, 1, 12, 30, tzinfo=UTC),
            "payload": JsonLine(LINE),
        }
        bulk_insert(session, cast(Table, ShopifyOrderRaw.__table__), [row])
        conversion: dict[str, Any] = {
            "id": "conv_bulk",
            "account_id": "acc_bulk",
            "conversion_type": "purchase",
            "visitor_id": None,
            "occurred_at": datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
            "received_at": datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
            "revenue": Decimal("19.99"),
            "currency": "EUR",
            "properties": {"source": "shopify", "codes": ["RIA15"]},
            "is_acquisition": False,
            "inherit_acquisition": False,
            "idempotency_key": "shopify:7",
            "status": "pending",
            "attribution_version": 0,
            "sessions_analyzed": 0,
            "attribution_meta": {},
        }
        bulk_insert(session, cast(Table, Conversion.__table__), [conversion])
        session.commit()
    with container.session() as session:
        stored = session.scalars(select(ShopifyOrderRaw)).one()
        assert stored.payload == {
            "id": "gid://shopify/Order/7",
            "name": "#7",
            "note": 'café "x"',
            "tags": [1, 2.5, None],
        }
        assert stored.order_updated_at == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        assert stored.fetched_at == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
        made = session.get_one(Conversion, "conv_bulk")
        assert made.revenue == Decimal("19.99") and made.visitor_id is None
        assert made.properties == {"source": "shopify", "codes": ["RIA15"]} and made.attribution_meta == {}
