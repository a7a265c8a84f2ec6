"""Shopify webhooks: the request side (verify, resolve the shop, enqueue) and the consumer side.

Request side (functions/webhooks, on the hot path): the ``X-Shopify-Hmac-Sha256`` header is checked
first — base64 HMAC-SHA256 of the raw body with the app's API secret (or, for a store connected with a
pasted custom-app token, that app's secret), compared in constant time. Then the shop is resolved from
``X-Shopify-Shop-Domain`` (a short per-process cache), and one message per connected integration goes to
the ``webhooks`` queue. Unknown shop: 200, nothing stored, a log line (Shopify retries non-2xx for 48 h).

Consumer side: the delivery is stored once per ``X-Shopify-Webhook-Id`` (a unique key: a redelivery or a
duplicate delivery is a no-op), then handled by topic in the same transaction.
"""

from __future__ import annotations

import base64
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from multibuzz.adapters.queue.base import OutgoingMessage, QueueUnavailableError
from multibuzz.bootstrap import Container
from multibuzz.commerce import integrations as svc
from multibuzz.commerce.aggregates import rebuild_shopify_days
from multibuzz.commerce.shopify import conversions as orders_to_conversions
from multibuzz.commerce.shopify.orders import OrderPayloadError, from_graphql, from_rest, money, timestamp
from multibuzz.commerce.shopify.privacy import redact_shop
from multibuzz.commerce.shopify.store import raw_payload, write_orders
from multibuzz.commerce.shopify.sync import _account_locale, hash_key, tools_of
from multibuzz.consumers.envelope import Envelope, dumps_envelope
from multibuzz.db.models.commerce import Integration, IntegrationSecret, ShopifyWebhookRaw
from multibuzz.http.json_body import parse_json
from multibuzz.observability import get_logger
from multibuzz.privacy.access import access_document
from multibuzz.privacy.erasure import request_erasure
from multibuzz.privacy.subjects import SubjectRef
from multibuzz.telemetry import correlation, metrics

logger = get_logger("shopify.webhooks")

KIND = "shopify.webhook"
WEBHOOK_SECRET = "webhook_secret"
ORDER_TOPICS = ("orders/create", "orders/updated", "orders/paid", "orders/cancelled")
TOPICS = (*ORDER_TOPICS, "refunds/create", "app/uninstalled")
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
_CACHE_SECONDS = 5.0
ACCEPTED: dict[str, Any] = {"status": "accepted"}  # the answer to a queued delivery (never mutated)


def signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.digest(secret.encode(), body, "sha256")).decode()


def verify(body: bytes, header: str | None, secrets: list[str]) -> bool:
    """Constant-time check of the header against every candidate secret (each compared in full).

    ``hmac.digest`` is the one-shot C HMAC (the same bytes as ``hmac.new(...).digest()``, without the
    Python object); the comparison is ``hmac.compare_digest`` of the base64 texts, as Shopify sends them."""
    if not header:
        return False
    expected = header.strip().encode()
    ok = False
    for secret in secrets:
        if secret:
            ok |= hmac.compare_digest(base64.b64encode(hmac.digest(secret.encode(), body, "sha256")), expected)
    return ok


@dataclass(frozen=True, slots=True)
class ShopTarget:
    integration_id: str
    account_id: str
    secret: str | None  # a custom app's own secret, if the store was connected with a pasted token


class ShopDirectory:
    """Connected Shopify integrations by shop domain, cached per process for a few seconds.

    The bound: a disconnect, an uninstall or a rotated custom-app secret in *this* process forgets the shop
    at once (``forget``); in any other process (another Lambda container of the function) the change is
    seen at most ``ttl`` seconds (5) later: until then a delivery for a store just disconnected there is
    still accepted and queued, as one sent a moment before the disconnect would have been."""

    def __init__(self, ttl: float = _CACHE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, list[ShopTarget]]] = {}
        self._custom: tuple[float, frozenset[str]] | None = None

    def lookup(self, container: Container, shop: str) -> list[ShopTarget]:
        now = self._clock()
        with self._lock:
            hit = self._entries.get(shop)
            if hit is not None and hit[0] > now:
                return hit[1]
        with container.session() as session:
            rows = svc.connected_by_external_id(session, "shopify", shop)
            secrets = (
                dict(
                    session.execute(
                        select(IntegrationSecret.integration_id, IntegrationSecret.ciphertext).where(
                            IntegrationSecret.integration_id.in_([r.id for r in rows]),
                            IntegrationSecret.kind == WEBHOOK_SECRET,
                        )
                    ).all()
                )
                if rows
                else {}
            )
            targets = [
                ShopTarget(r.id, r.account_id, container.secret_box.decrypt(secrets[r.id]) if r.id in secrets else None)
                for r in rows
            ]
        with self._lock:
            self._entries[shop] = (now + self._ttl, targets)
        return targets

    def has_own_secret(self, container: Container, shop: str) -> bool:
        """Whether a store connected with a pasted custom-app token (own webhook secret) has this domain.

        One query for the whole set, refreshed every few seconds: a request with a wrong signature and a
        made-up domain never costs a database round trip of its own."""
        now = self._clock()
        with self._lock:
            cached = self._custom
        if cached is None or cached[0] <= now:
            with container.session() as session:
                domains = frozenset(
                    session.scalars(
                        select(Integration.external_id)
                        .join(IntegrationSecret, IntegrationSecret.integration_id == Integration.id)
                        .where(
                            Integration.type == "shopify",
                            Integration.status != "disconnected",
                            IntegrationSecret.kind == WEBHOOK_SECRET,
                        )
                    )
                )
            cached = (now + self._ttl, domains)
            with self._lock:
                self._custom = cached
        return shop in cached[1]

    def forget(self, shop: str | None = None) -> None:
        with self._lock:
            self._custom = None
            if shop is None:
                self._entries.clear()
            else:
                self._entries.pop(shop, None)


directory = ShopDirectory()


def message_for(
    target: ShopTarget, topic: str, webhook_id: str, shop: str, headers: dict[str, str], body: dict[str, Any]
) -> OutgoingMessage:
    payload = {
        "integration_id": target.integration_id,
        "topic": topic,
        "webhook_id": webhook_id,
        "shop": shop,
        "api_version": headers.get("x-shopify-api-version"),
        "triggered_at": headers.get("x-shopify-triggered-at"),
        "body": body,
    }
    text = dumps_envelope(KIND, f"shopify:{target.integration_id}:{webhook_id}", target.account_id, payload)
    return OutgoingMessage(text, attributes=correlation.message_attributes())  # the request id travels along


# -- consumer ----------------------------------------------------------------------------------------


def handle(
    envelope: Envelope, session: Session, container: Container, after: list[Callable[[], None]] | None = None
) -> list[OutgoingMessage]:
    """Store the delivery once and act on it; returns conversion messages to send after commit.

    ``after`` collects what must run once the delivery is committed (the privacy service's own
    transactions: an erasure request, an access document); a duplicate delivery adds nothing."""
    p = envelope.payload
    integration = session.get(Integration, str(p.get("integration_id")))
    if integration is None or integration.account_id != envelope.account_id:
        logger.warning("webhook for an unknown integration dropped", extra={"integration_id": p.get("integration_id")})
        return []
    now = container.clock.now()
    topic = str(p.get("topic"))
    raw = ShopifyWebhookRaw(
        account_id=integration.account_id,
        integration_id=integration.id,
        webhook_id=str(p.get("webhook_id"))[:100],
        topic=topic[:60],
        shop_domain=str(p.get("shop"))[:255],
        api_version=(str(p["api_version"])[:20] if p.get("api_version") else None),
        triggered_at=_maybe_time(p.get("triggered_at")),
        received_at=now,
        status="received",
        payload=dict(p.get("body") or {}),
    )
    # Once per webhook id: a concurrent duplicate fails the unique key at commit and, retried, stops here.
    seen = session.scalar(
        select(ShopifyWebhookRaw.id).where(
            ShopifyWebhookRaw.account_id == integration.account_id, ShopifyWebhookRaw.webhook_id == raw.webhook_id
        )
    )
    if seen is not None:
        logger.info("duplicate webhook delivery ignored", extra={"webhook_id": raw.webhook_id})
        return []
    session.add(raw)
    session.flush()
    logger.info(
        "webhook stored",
        extra={
            "topic": topic,
            "webhook_id": raw.webhook_id,
            "account_id": raw.account_id,
            "correlation_id": envelope.correlation_id,  # the delivery's HTTP request id
        },
    )
    messages: list[OutgoingMessage] = []
    body = dict(p.get("body") or {})
    if topic in ORDER_TOPICS:
        messages = _order(session, container, integration, body, raw)
    elif topic == "refunds/create":
        messages = _refund(session, container, integration, body, raw)
    elif topic == "app/uninstalled":
        svc.disconnect(session, tools_of(container), integration)
        directory.forget(integration.external_id)
    elif topic in COMPLIANCE_TOPICS:
        raw.payload = _compliance(container, integration, topic, body, raw, after)
    else:
        raw.status = "ignored"
    if raw.status == "received":
        raw.status = "processed"
    raw.processed_at = container.clock.now()
    return messages


def forget_delivery(container: Container, envelope: Envelope) -> None:
    """Delete a stored delivery whose after-commit work failed: the queue's redelivery is then not a
    duplicate and does the work again (an erasure request twice is harmless: the second finds nothing)."""
    from sqlalchemy import delete

    webhook_id = str(envelope.payload.get("webhook_id"))[:100]
    with container.session() as session:
        session.execute(
            delete(ShopifyWebhookRaw).where(
                ShopifyWebhookRaw.account_id == envelope.account_id, ShopifyWebhookRaw.webhook_id == webhook_id
            )
        )
        session.commit()


def _compliance(
    container: Container,
    integration: Integration,
    topic: str,
    body: dict[str, Any],
    raw: ShopifyWebhookRaw,
    after: list[Callable[[], None]] | None,
) -> dict[str, Any]:
    """The mandatory compliance topics through the privacy service (multibuzz.privacy). Returns what the
    stored delivery keeps instead of the body (no personal data)."""
    account_id = integration.account_id
    if topic == "shop/redact":
        orders = redact_shop(session_of(raw), integration.id)
        return {"shop_domain": body.get("shop_domain"), "orders_redacted": orders}
    customer = body.get("customer") or {}
    customer_id = str(customer["id"]) if customer.get("id") is not None else None
    email = str(customer.get("email") or "").strip()
    if not email and not customer_id:
        raw.status, raw.error_message = "failed", "no customer email or id in the body"
        return {}
    # The e-mail names the subject (their identities, visitors and orders); the customer id finds orders
    # without one. A customer known only by id is named by the user id the orders give them.
    ref = SubjectRef("email", email, customer_ids=(customer_id,) if customer_id else ())
    if not email:
        ref = SubjectRef("user_id", f"shopify:{customer_id}", customer_ids=(str(customer_id),))
    requested_by = f"shopify:{topic}"
    kept: dict[str, Any] = {"customer_id": customer_id, "orders_named": len(body.get("orders_to_redact") or [])}
    if topic == "customers/redact":
        if after is not None:
            after.append(lambda: _erase(container, account_id, ref, requested_by))
        return kept
    # customers/data_request: the access document, stored for the owner (the object store, beside exports).
    key = f"privacy/{account_id}/access/shopify-{raw.webhook_id}.json"
    kept["document_key"] = key
    kept["orders_requested"] = [str(o) for o in body.get("orders_requested") or []]
    if after is not None:
        after.append(lambda: _document(container, account_id, ref, requested_by, key))
    return kept


def session_of(raw: ShopifyWebhookRaw) -> Session:
    from sqlalchemy.orm import object_session

    session = object_session(raw)
    assert session is not None
    return session


def _erase(container: Container, account_id: str, ref: SubjectRef, requested_by: str) -> None:
    request_id = request_erasure(container, account_id, ref, requested_by)
    logger.info("customers/redact: erasure queued", extra={"request_id": request_id, "account_id": account_id})


def _document(container: Container, account_id: str, ref: SubjectRef, requested_by: str, key: str) -> None:
    import json

    document = access_document(container, account_id, ref, requested_by)
    data = json.dumps(document, default=str, separators=(",", ":")).encode()
    container.objects.put(key, data, "application/json")
    logger.info("customers/data_request: access document stored", extra={"key": key, "request_id": document["id"]})


def _maybe_time(value: Any) -> datetime | None:
    try:
        return timestamp(value)
    except OrderPayloadError:
        return None


def _write(
    session: Session, container: Container, integration: Integration, facts: Any, payload: dict[str, Any]
) -> list[OutgoingMessage]:
    zone, currency = _account_locale(session, integration.account_id)
    result = write_orders(
        session,
        integration,
        [(facts, payload)],
        source="webhook",
        now=container.clock.now(),
        zone=zone,
        hash_key=hash_key(container),
    )
    if result.dates:
        rebuild_shopify_days(
            session, integration.account_id, integration.id, result.dates, container.clock.now(), currency
        )
    return orders_to_conversions.upsert_conversions(
        session, integration, result.written, now=container.clock.now(), hash_key=hash_key(container)
    )


def _order(
    session: Session, container: Container, integration: Integration, body: dict[str, Any], raw: ShopifyWebhookRaw
) -> list[OutgoingMessage]:
    try:
        facts = from_rest(body)
    except OrderPayloadError as exc:
        raw.status, raw.error_message = "failed", f"not a readable order: {exc}"
        return []
    return _write(session, container, integration, facts, body)


def _refund(
    session: Session, container: Container, integration: Integration, body: dict[str, Any], raw: ShopifyWebhookRaw
) -> list[OutgoingMessage]:
    """A refund webhook carries the refund, not the order: apply it to the stored order payload once."""
    order_id = str(body.get("order_id"))
    stored = raw_payload(session, integration.id, order_id)
    if stored is None:
        raw.status, raw.error_message = "deferred", "order not stored yet; the next sync brings it with its refunds"
        return []
    refund_id = str(body.get("id"))
    applied = list(stored.get("_mbuzz_refund_ids") or [])
    if refund_id in applied or any(str(r.get("id")) == refund_id for r in stored.get("refunds") or []):
        return []
    amount = sum(
        (
            money(t.get("amount"))
            for t in body.get("transactions") or []
            if t.get("kind") == "refund" and t.get("status", "success") == "success"
        ),
        money(0),
    )
    at = _maybe_time(body.get("processed_at") or body.get("created_at")) or container.clock.now()
    graphql = "totalRefundedSet" in stored
    payload = dict(stored)
    if graphql:
        before = money(payload.get("totalRefundedSet"))
        currency = (payload.get("totalRefundedSet") or {}).get("shopMoney", {}).get("currencyCode")
        payload["totalRefundedSet"] = {"shopMoney": {"amount": str(before + amount), "currencyCode": currency}}
        payload["_mbuzz_refund_ids"] = [*applied, refund_id]
        updated = max(timestamp(payload.get("updatedAt")) or at, at)
        payload["updatedAt"] = updated.strftime("%Y-%m-%dT%H:%M:%SZ")
        facts = from_graphql(payload)
    else:
        payload["refunds"] = [*(payload.get("refunds") or []), body]
        updated = max(timestamp(payload.get("updated_at")) or at, at)
        payload["updated_at"] = updated.strftime("%Y-%m-%dT%H:%M:%SZ")
        facts = from_rest(payload)
    return _write(session, container, integration, facts, payload)


# -- request side ------------------------------------------------------------------------------------


def _problem(message: str, field: str) -> dict[str, Any]:
    return {"error": "bad_request", "message": message, "errors": [{"field": field, "message": message}]}


def accept(container: Container, topic: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
    """Verify, resolve, enqueue. Returns (HTTP status, JSON body). ``headers`` have lower-case names."""
    shop = headers.get("x-shopify-shop-domain", "").strip().lower()
    header = headers.get("x-shopify-hmac-sha256")
    app_secret = container.settings.shopify_api_secret.get_secret_value()
    if not verify(body, header, [app_secret]):
        # A store connected with a pasted custom-app token signs with that app's secret.
        own = bool(shop and header) and directory.has_own_secret(container, shop)
        targets = directory.lookup(container, shop) if own else []
        custom = [t.secret for t in targets if t.secret]
        if not custom or not verify(body, header, custom):
            _rejected("signature")
            return 401, {"error": "unauthorized", "message": "X-Shopify-Hmac-Sha256 does not match the body"}
    targets = directory.lookup(container, shop) if shop else []
    if not targets:
        logger.info(
            "webhook for a shop we do not know: acknowledged, nothing stored", extra={"shop": shop, "topic": topic}
        )
        return 200, {"status": "ignored", "reason": "unknown shop"}
    webhook_id = headers.get("x-shopify-webhook-id", "").strip()
    if not webhook_id:
        _rejected("invalid")
        return 400, _problem("X-Shopify-Webhook-Id header is required", "X-Shopify-Webhook-Id")
    try:
        parsed = parse_json(body or b"{}")
    except (ValueError, RecursionError):
        _rejected("invalid")
        return 400, _problem("body is not JSON", "body")
    if not isinstance(parsed, dict):
        _rejected("invalid")
        return 400, _problem("body must be a JSON object", "body")
    messages = [message_for(t, topic, webhook_id[:100], shop, headers, parsed) for t in targets]
    try:
        results = container.queue.send_batch("webhooks", messages)
    except QueueUnavailableError:
        _rejected("queue")
        return 503, {"error": "unavailable", "message": "queue unavailable; Shopify will retry"}
    if not all(r.ok for r in results):
        _rejected("queue")
        return 503, {"error": "unavailable", "message": "queue refused the delivery; Shopify will retry"}
    metrics.count(metrics.Metric.WEBHOOKS_RECEIVED)
    return 200, ACCEPTED


def _rejected(reason: str) -> None:
    """A delivery refused: ``reason`` is signature (401), invalid (400) or queue (503, Shopify retries)."""
    metrics.count(metrics.Metric.WEBHOOKS_REJECTED, dimensions=(("reason", reason),))
