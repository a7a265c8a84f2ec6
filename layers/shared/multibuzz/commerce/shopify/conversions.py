"""Paid Shopify orders as ``purchase`` conversions, attributed by the existing attribution consumer.

- One conversion per order: the idempotency key ``shopify:<order id>`` (deterministic conversion id), so
  a webhook and a sync of one order make one conversion (``properties.order_id`` carries the id).
- Who converted: the visitor of a ``_mbuzz_vid`` note/cart attribute when we know it; else the identity
  whose ``user_id`` is the Shopify customer id, the email or the email's keyed hash (its linked visitors
  are the journey); else nobody (the journey is empty: direct), still with the waterfall inputs.
- The influencer waterfall gets the first discount code (``coupon_code``) and the landing URL's
  ``ref_code``; landing UTMs are kept in the properties.
- Refunds lower the conversion's revenue to the order's net and a cancellation sets it to 0; either
  re-queues it, and the consumer writes a new attribution version with credits summing to the new revenue.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from multibuzz.adapters.queue.base import OutgoingMessage, QueuePublisher, QueueUnavailableError
from multibuzz.commerce.shopify.orders import OrderFacts, email_hash
from multibuzz.consumers.envelope import dumps_envelope
from multibuzz.conversions.ids import conversion_id_for
from multibuzz.db.models import Conversion, Identity, Visitor
from multibuzz.db.models.commerce import Integration
from multibuzz.observability import get_logger
from multibuzz.services.conversions import KIND
from multibuzz.telemetry import correlation

logger = get_logger("shopify")
_CHUNK = 500


def idempotency_key(order_id: str) -> str:
    return f"shopify:{order_id}"


def conversion_id_of(account_id: str, facts: OrderFacts) -> str | None:
    """The purchase conversion a paid order has (deterministic, so the fact row names it in one write)."""
    return conversion_id_for(account_id, idempotency_key(facts.shopify_order_id)) if facts.is_paid else None


def _properties(facts: OrderFacts, integration: Integration, group: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        "order_id": facts.shopify_order_id,
        "order_name": facts.order_name,
        "source": "shopify",
        "integration_id": integration.id,
        "discount_codes": facts.discount_codes,
        "_group": group,
    }
    if facts.discount_codes:
        props["coupon_code"] = facts.discount_codes[0]
    if facts.ref_code:
        props["ref_code"] = facts.ref_code
    if facts.landing_site:
        props["landing_url"] = facts.landing_site
    if facts.referring_site:
        props["referrer"] = facts.referring_site
    props.update(facts.utm())
    if facts.cancelled_at is not None:
        props["cancelled"] = True
    return props


def upsert_conversions(
    session: Session, integration: Integration, facts_list: Sequence[OrderFacts], *, now: Any, hash_key: bytes
) -> list[OutgoingMessage]:
    """Create or adjust the conversions of these (just written) orders; returns the messages to enqueue
    once the transaction has committed."""
    messages: list[OutgoingMessage] = []
    for start in range(0, len(facts_list), _CHUNK):
        messages.extend(_chunk(session, integration, facts_list[start : start + _CHUNK], now, hash_key))
    return messages


def _chunk(
    session: Session, integration: Integration, facts_list: Sequence[OrderFacts], now: Any, hash_key: bytes
) -> list[OutgoingMessage]:
    account_id = integration.account_id
    keys = {f.shopify_order_id: idempotency_key(f.shopify_order_id) for f in facts_list}
    existing = {
        c.idempotency_key: c
        for c in session.scalars(
            select(Conversion).where(Conversion.account_id == account_id, Conversion.idempotency_key.in_(keys.values()))
        )
    }
    todo = [f for f in facts_list if keys[f.shopify_order_id] in existing or (f.is_paid and f.cancelled_at is None)]
    if not todo:
        return []
    visitor_keys = {f.visitor_key for f in todo if f.visitor_key}
    visitors: dict[str, tuple[str, str | None]] = {}
    if visitor_keys:
        visitors = {
            key: (vid, iid)
            for key, vid, iid in session.execute(
                select(Visitor.visitor_key, Visitor.id, Visitor.identity_id).where(
                    Visitor.account_id == account_id, Visitor.visitor_key.in_(visitor_keys)
                )
            )
        }
    user_ids: dict[str, list[str]] = {}
    for f in todo:
        candidates = [c for c in (f.shopify_customer_id, f.email and f.email.strip().lower()) if c]
        if f.email:
            candidates.append(email_hash(f.email, hash_key))
        user_ids[f.shopify_order_id] = candidates
    every_user = {u for values in user_ids.values() for u in values}
    identities: dict[str, str] = {}
    if every_user:
        identities = dict(
            session.execute(
                select(Identity.user_id, Identity.id).where(
                    Identity.account_id == account_id, Identity.user_id.in_(every_user)
                )
            ).all()
        )
    messages: list[OutgoingMessage] = []
    new_rows: list[dict[str, Any]] = []
    for f in todo:
        key = keys[f.shopify_order_id]
        conversion_id = conversion_id_for(account_id, key)
        visitor = visitors.get(f.visitor_key) if f.visitor_key else None
        identity_id = visitor[1] if visitor else None
        user = None
        if identity_id is None:
            user = next((u for u in user_ids[f.shopify_order_id] if u in identities), None)
            identity_id = identities.get(user) if user else None
        if visitor is not None:
            group = f"{account_id}:{f.visitor_key}"
        elif user is not None:
            group = f"{account_id}:user:{user}"
        else:
            group = f"{account_id}:{conversion_id}"
        revenue = f.net
        found = existing.get(key)
        if found is None:
            new_rows.append(
                {
                    "id": conversion_id,
                    "account_id": account_id,
                    "conversion_type": "purchase",
                    "visitor_id": visitor[0] if visitor else None,
                    "identity_id": identity_id,
                    "event_id": None,
                    "occurred_at": f.processed_at or f.order_created_at,
                    "received_at": now,
                    "revenue": revenue,
                    "currency": f.currency,
                    "properties": _properties(f, integration, group),
                    "is_acquisition": False,
                    "inherit_acquisition": False,
                    "idempotency_key": key,
                    "lookback_days": None,
                    "status": "pending",
                    "attribution_version": 0,
                    "sessions_analyzed": 0,
                    "attribution_meta": {},
                }
            )
        else:
            if Decimal(found.revenue) == revenue and found.status != "failed":
                if found.status == "pending":  # never handed over (a crash after commit): hand it over now
                    group = str((found.properties or {}).get("_group") or group)
                    messages.append(_message(found.id, account_id, group, revenue))
                continue
            found.revenue = revenue
            found.properties = {**_properties(f, integration, str((found.properties or {}).get("_group") or group))}
            found.status = "pending"
            group = str(found.properties["_group"])
        messages.append(_message(conversion_id, account_id, group, revenue))
    if new_rows:
        from multibuzz.commerce.shopify.store import bulk_insert

        bulk_insert(session, cast(Table, Conversion.__table__), new_rows)
    return messages


def _message(conversion_id: str, account_id: str, group: str, revenue: Decimal) -> OutgoingMessage:
    body = dumps_envelope(KIND, f"conv:{conversion_id}", account_id, {"conversion_id": conversion_id})
    # The revenue is part of the FIFO dedup id: a refund re-queues the conversion within SQS's 5-minute
    # deduplication window and must not be dropped as a duplicate of the first message.
    return OutgoingMessage(
        body,
        group_id=group,
        dedup_id=f"conv:{conversion_id}:{revenue}",
        attributes=correlation.message_attributes(),  # the webhook's request id (or none: a sync)
    )


def send(queue: QueuePublisher, messages: Sequence[OutgoingMessage]) -> int:
    """Hand conversions to the attribution consumer (after commit). A queue outage leaves them pending:
    the next sync or webhook of the order re-sends them. Returns how many were taken."""
    taken = 0
    for start in range(0, len(messages), 500):  # publishers split into their own batch size (SQS: 10)
        batch = list(messages[start : start + 500])
        try:
            results = queue.send_batch("ingest", batch)
        except QueueUnavailableError:
            logger.warning("conversions left pending: queue unavailable", extra={"count": len(messages) - taken})
            return taken
        taken += sum(1 for r in results if r.ok)
    return taken
