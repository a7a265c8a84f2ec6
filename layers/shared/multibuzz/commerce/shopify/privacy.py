"""Shopify orders under the privacy service (#15 + #11): registry entries for the order tables, the
subject's orders, and the shop-wide redaction ``shop/redact`` asks for.

A subject's orders are found by the keyed hash of their e-mail, their Shopify customer id (hinted by the
``customers/redact`` webhook, or carried by an order found by e-mail) and their visitors' ids (the
``_mbuzz_vid`` note/cart attribute). Erasure anonymises, never deletes, the order rows: the money, the
statuses and the times stay (reports and the daily aggregates are unchanged), the customer goes — the raw
payloads (stored order JSON and webhook bodies) lose every personal key, the fact row its customer keys,
attributes and URLs. The fact rows tie the orders to the subject, so they are erased last (``final``):
a crashed erasure, run again, still finds the raw rows through them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, func, or_, select, update
from sqlalchemy.orm import Session

from multibuzz.commerce.shopify.orders import email_hash
from multibuzz.db.models.commerce import FactOrder, ShopifyOrderRaw, ShopifyWebhookRaw
from multibuzz.privacy.registry import TableEntry, register
from multibuzz.privacy.subjects import EXTENSIONS, Subject

#: Keys (REST snake_case and GraphQL camelCase, compared in lower case) whose values describe the person:
#: dropped at any depth of a stored payload.
PERSONAL_KEYS = frozenset(
    {
        "email",
        "contact_email",
        "phone",
        "customer",
        "billing_address",
        "shipping_address",
        "billingaddress",
        "shippingaddress",
        "displayaddress",
        "addresses",
        "default_address",
        "defaultaddress",
        "first_name",
        "last_name",
        "firstname",
        "lastname",
        "note",
        "note_attributes",
        "customattributes",
        "properties",  # line item properties: engraving text, gift messages
        "client_details",
        "clientdetails",
        "browser_ip",
        "clientip",
        "landing_site",
        "landing_site_ref",
        "referring_site",
        "landingpageurl",
        "referrerurl",
        "customerjourneysummary",
        "_mbuzz_vid",
    }
)

FACT_PII: dict[str, Any] = {
    "customer_ref": None,
    "shopify_customer_id": None,
    "email_hash": None,
    "visitor_id": None,
    "note_attributes": [],
    "cart_attributes": [],
    "landing_site": None,
    "referring_site": None,
}


def scrub(value: Any) -> Any:
    """``value`` without any personal key, at any depth (the money, ids, statuses and times stay)."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if str(k).lower() not in PERSONAL_KEYS}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def _anonymise_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    payload = row.get("payload")
    cleaned = scrub(payload) if isinstance(payload, dict) else {}
    return {"payload": {**cleaned, "_erased": True}}


def _anonymise_fact(row: Mapping[str, Any]) -> dict[str, Any]:
    return dict(FACT_PII)


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


def _pairs(table: Table, subject: Subject) -> ColumnElement[bool] | None:
    if not subject.shopify_orders:
        return None
    c = table.c
    by_store: dict[str, list[str]] = {}
    for integration_id, order_id in subject.shopify_orders:
        by_store.setdefault(integration_id, []).append(order_id)
    return (c.account_id == subject.account_id) & or_(
        *(and_(c.integration_id == i, c.shopify_order_id.in_(ids)) for i, ids in by_store.items())
    )


def _id_values(ids: list[str]) -> list[Any]:
    # A JSON number reads back as a number on SQLite and as text on MySQL: match both forms.
    return [*ids, *(int(i) for i in ids if i.isdigit())]


def _not_erased(table: Table) -> ColumnElement[bool]:
    # An anonymised row must stop matching: the erasure job erases batches until nothing matches.
    return table.c.payload["_erased"].as_string().is_(None)


def _raw_orders(subject: Subject) -> ColumnElement[bool] | None:
    table = _table(ShopifyOrderRaw)
    found = _pairs(table, subject)
    return None if found is None else found & _not_erased(table)


def _webhooks(subject: Subject) -> ColumnElement[bool] | None:
    if not subject.shopify_orders:
        return None
    c = _table(ShopifyWebhookRaw).c
    by_store: dict[str, list[str]] = {}
    for integration_id, order_id in subject.shopify_orders:
        by_store.setdefault(integration_id, []).append(order_id)
    # An order webhook names the order as ``id``, a refund as ``order_id``.
    return (
        (c.account_id == subject.account_id)
        & _not_erased(_table(ShopifyWebhookRaw))
        & or_(
            *(
                and_(
                    c.integration_id == i,
                    or_(
                        c.payload["id"].as_string().in_(_id_values(ids)),
                        c.payload["order_id"].as_string().in_(_id_values(ids)),
                    ),
                )
                for i, ids in by_store.items()
            )
        )
    )


def find_orders(session: Session, subject: Subject, server_secret: str) -> None:
    """The subject's orders: by e-mail hash, Shopify customer id (hinted or found) and visitor id."""
    key = ("shopify-email:" + server_secret).encode()  # as multibuzz.commerce.shopify.sync.hash_key
    hashes = [email_hash(subject.ref.value, key)] if subject.ref.type == "email" else []
    customers = set(subject.ref.customer_ids)
    orders: set[tuple[str, str]] = set()
    for _ in range(2):  # a second pass takes the other orders of customer ids the first pass found
        conditions = [
            FactOrder.email_hash.in_(hashes) if hashes else None,
            FactOrder.shopify_customer_id.in_(sorted(customers)) if customers else None,
            FactOrder.visitor_id.in_(subject.visitor_keys) if subject.visitor_keys else None,
        ]
        present = [c for c in conditions if c is not None]
        if not present:
            break
        rows = session.execute(
            select(FactOrder.integration_id, FactOrder.shopify_order_id, FactOrder.shopify_customer_id).where(
                FactOrder.account_id == subject.account_id, or_(*present)
            )
        ).all()
        found = {str(c) for _, _, c in rows if c}
        orders |= {(i, o) for i, o, _ in rows}
        if found <= customers:
            break
        customers |= found
    subject.shopify_orders = sorted(orders)
    subject.shopify_customer_ids = sorted(customers)


def redact_shop(session: Session, integration_id: str) -> int:
    """``shop/redact``: every order of the store loses its customer data (revenue stays). Returns orders."""
    facts = session.scalar(select(func.count()).where(FactOrder.integration_id == integration_id))
    session.execute(update(FactOrder).where(FactOrder.integration_id == integration_id).values(**FACT_PII))
    for model in (ShopifyOrderRaw, ShopifyWebhookRaw):
        rows = session.execute(select(model.id, model.payload).where(model.integration_id == integration_id)).all()
        for row_id, payload in rows:
            session.execute(update(model).where(model.id == row_id).values(**_anonymise_payload({"payload": payload})))
    return int(facts or 0)


EXTENSIONS.append(find_orders)
register(
    TableEntry(
        _table(ShopifyOrderRaw),
        _raw_orders,
        "anonymise",
        _anonymise_payload,
        purpose="stored Shopify order JSON: the customer, addresses, phone, notes and attributes go; money stays",
    )
)
register(
    TableEntry(
        _table(ShopifyWebhookRaw),
        _webhooks,
        "anonymise",
        _anonymise_payload,
        purpose="stored Shopify webhook bodies of the subject's orders: personal keys go",
    )
)
register(
    TableEntry(
        _table(FactOrder),
        lambda s: _pairs(_table(FactOrder), s),
        "anonymise",
        _anonymise_fact,
        final=True,
        purpose="order facts: revenue stays; customer id, e-mail hash, visitor, attributes and URLs go",
    )
)
