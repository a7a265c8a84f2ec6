"""Pure functions: a Shopify order (REST webhook JSON or an Admin GraphQL node) → one typed fact row.

Money definitions (all in the order's shop currency):
- ``gross``: line items before discounts (``total_line_items_price``);
- ``discounts``: ``total_discounts``;
- ``refunds``: successful refund transactions (``totalRefundedSet`` in GraphQL);
- ``net``: gross - discounts - refunds, never below zero; 0 for a cancelled order (a cancellation reverses
  the whole order). ``net`` is the revenue of the purchase conversion and of the daily aggregates.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

ZERO = Decimal("0")
VISITOR_ATTRIBUTE = "_mbuzz_vid"
PAID_STATUSES = frozenset({"paid", "partially_refunded", "refunded", "partially_paid"})


class OrderPayloadError(ValueError):
    """The payload is not an order we can read (no id, no updated_at)."""


@dataclass(slots=True)
class OrderFacts:
    shopify_order_id: str
    order_name: str | None
    currency: str
    gross: Decimal
    discounts: Decimal
    refunds: Decimal
    net: Decimal
    total_price: Decimal
    total_tax: Decimal
    shipping: Decimal
    financial_status: str | None
    fulfillment_status: str | None
    cancelled_at: datetime | None
    order_created_at: datetime
    order_updated_at: datetime
    processed_at: datetime | None
    landing_site: str | None
    referring_site: str | None
    source_name: str | None
    discount_codes: list[str] = field(default_factory=list)
    note_attributes: list[dict[str, Any]] = field(default_factory=list)
    cart_attributes: list[dict[str, Any]] = field(default_factory=list)
    shopify_customer_id: str | None = None
    email: str | None = None  # used to hash, never stored in the fact row
    test: bool = False

    @property
    def is_paid(self) -> bool:
        return (self.financial_status or "") in PAID_STATUSES

    @property
    def visitor_key(self) -> str | None:
        """The ``_mbuzz_vid`` note or cart attribute (the storefront script writes it)."""
        for attribute in (*self.note_attributes, *self.cart_attributes):
            if str(attribute.get("name", "")) == VISITOR_ATTRIBUTE:
                value = str(attribute.get("value") or "").strip()
                if value:
                    return value[:128]
        return None

    @property
    def ref_code(self) -> str | None:
        """A ``ref_code`` in the landing URL (our redirect appends it)."""
        if not self.landing_site:
            return None
        values = parse_qs(urlsplit(self.landing_site).query).get("ref_code")
        return values[0][:64] if values and values[0] else None

    def utm(self) -> dict[str, str]:
        if not self.landing_site:
            return {}
        query = parse_qs(urlsplit(self.landing_site).query)
        return {key: values[0] for key, values in query.items() if key.startswith("utm_") and values and values[0]}


def money(value: Any) -> Decimal:
    if value is None or value == "":
        return ZERO
    if isinstance(value, dict):  # GraphQL MoneyBag: {"shopMoney": {"amount": "1.00", ...}}
        value = (value.get("shopMoney") or {}).get("amount")
        return money(value)
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise OrderPayloadError(f"not an amount: {value!r}") from exc


def timestamp(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    text = str(value).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise OrderPayloadError(f"not a timestamp: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _net(gross: Decimal, discounts: Decimal, refunds: Decimal, cancelled: bool) -> Decimal:
    if cancelled:
        return ZERO
    return max(ZERO, gross - discounts - refunds)


def _attributes(items: Any) -> list[dict[str, Any]]:
    out = []
    for item in items or []:
        if isinstance(item, dict):
            name = item.get("name", item.get("key"))
            out.append({"name": str(name), "value": None if item.get("value") is None else str(item["value"])})
    return out


def refund_total(refunds: Any) -> Decimal:
    """Successful refund transactions of REST refund objects."""
    total = ZERO
    for refund in refunds or []:
        for transaction in refund.get("transactions") or []:
            if transaction.get("kind") == "refund" and transaction.get("status", "success") == "success":
                total += money(transaction.get("amount"))
    return total


def _required_time(value: Any, name: str) -> datetime:
    parsed = timestamp(value)
    if parsed is None:
        raise OrderPayloadError(f"order has no {name}")
    return parsed


def from_rest(payload: dict[str, Any]) -> OrderFacts:
    """An order as Shopify's webhooks (and the REST API) send it."""
    if payload.get("id") is None:
        raise OrderPayloadError("order has no id")
    gross = money(payload.get("total_line_items_price", payload.get("subtotal_price")))
    discounts = money(payload.get("total_discounts"))
    refunds = refund_total(payload.get("refunds"))
    cancelled_at = timestamp(payload.get("cancelled_at"))
    customer = payload.get("customer") or {}
    shipping = money((payload.get("total_shipping_price_set") or {}).get("shop_money", {}).get("amount"))
    return OrderFacts(
        shopify_order_id=str(payload["id"]),
        order_name=_short(payload.get("name"), 64),
        currency=str(payload.get("currency") or "USD")[:3].upper(),
        gross=gross,
        discounts=discounts,
        refunds=refunds,
        net=_net(gross, discounts, refunds, cancelled_at is not None),
        total_price=money(payload.get("total_price")),
        total_tax=money(payload.get("total_tax")),
        shipping=shipping,
        financial_status=_short(payload.get("financial_status"), 30),
        fulfillment_status=_short(payload.get("fulfillment_status"), 30),
        cancelled_at=cancelled_at,
        order_created_at=_required_time(payload.get("created_at"), "created_at"),
        order_updated_at=_required_time(payload.get("updated_at"), "updated_at"),
        processed_at=timestamp(payload.get("processed_at")),
        landing_site=payload.get("landing_site") or None,
        referring_site=payload.get("referring_site") or None,
        source_name=_short(payload.get("source_name"), 64),
        discount_codes=[str(d.get("code")) for d in payload.get("discount_codes") or [] if d.get("code")],
        note_attributes=_attributes(payload.get("note_attributes")),
        cart_attributes=_attributes(payload.get("cart_attributes")),
        shopify_customer_id=str(customer["id"]) if customer.get("id") is not None else None,
        email=(payload.get("email") or customer.get("email") or None),
        test=bool(payload.get("test")),
    )


def gid_number(gid: Any) -> str:
    """``gid://shopify/Order/123`` → ``123``."""
    return str(gid).rsplit("/", 1)[-1]


def from_graphql(node: dict[str, Any]) -> OrderFacts:
    """An ``Order`` node of the Admin GraphQL API as selected by :data:`ORDER_FIELDS`."""
    if not node.get("id"):
        raise OrderPayloadError("order has no id")
    discounts = money(node.get("totalDiscountsSet"))
    gross = money(node.get("subtotalPriceSet")) + discounts  # subtotal is after discounts
    refunds = money(node.get("totalRefundedSet"))
    cancelled_at = timestamp(node.get("cancelledAt"))
    customer = node.get("customer") or {}
    journey = node.get("customerJourneySummary") or {}
    visit = journey.get("lastVisit") or journey.get("firstVisit") or {}
    return OrderFacts(
        shopify_order_id=gid_number(node["id"]),
        order_name=_short(node.get("name"), 64),
        currency=str(node.get("currencyCode") or "USD")[:3].upper(),
        gross=gross,
        discounts=discounts,
        refunds=refunds,
        net=_net(gross, discounts, refunds, cancelled_at is not None),
        total_price=money(node.get("totalPriceSet")),
        total_tax=money(node.get("totalTaxSet")),
        shipping=money(node.get("totalShippingPriceSet")),
        financial_status=_lower(node.get("displayFinancialStatus")),
        fulfillment_status=_lower(node.get("displayFulfillmentStatus")),
        cancelled_at=cancelled_at,
        order_created_at=_required_time(node.get("createdAt"), "createdAt"),
        order_updated_at=_required_time(node.get("updatedAt"), "updatedAt"),
        processed_at=timestamp(node.get("processedAt")),
        landing_site=visit.get("landingPage") or None,
        referring_site=visit.get("referrerUrl") or None,
        source_name=_short(node.get("sourceName"), 64),
        discount_codes=[str(c) for c in node.get("discountCodes") or [] if c],
        note_attributes=_attributes(node.get("customAttributes")),
        cart_attributes=[],
        shopify_customer_id=gid_number(customer["id"]) if customer.get("id") else None,
        email=node.get("email") or None,
        test=bool(node.get("test")),
    )


def _short(value: Any, length: int) -> str | None:
    return None if value is None or value == "" else str(value)[:length]


def _lower(value: Any) -> str | None:
    return None if not value else str(value).lower()[:30]


def email_hash(email: str, key: bytes) -> str:
    """Keyed hash of a normalised email: joins orders of one customer without storing the address."""
    return hmac.digest(key, email.strip().lower().encode(), "sha256").hex()  # one-shot: hmac.new(...).hexdigest()


def customer_ref(facts: OrderFacts, key: bytes) -> tuple[str | None, str | None]:
    """(customer_ref, email_hash): the Shopify customer id when there is one, else the email's hash."""
    hashed = email_hash(facts.email, key) if facts.email else None
    if facts.shopify_customer_id:
        return f"shopify:{facts.shopify_customer_id}", hashed
    if hashed:
        return f"email:{hashed[:40]}", hashed
    return None, None


def order_day(facts: OrderFacts, zone: str) -> date:
    """The day the order counts on: processed (else created) time in the account's time zone."""
    moment = facts.processed_at or facts.order_created_at
    return moment.astimezone(ZoneInfo(zone)).date()


# The fields every sync asks for (paginated queries and bulk operations alike).
ORDER_FIELDS = """
id
name
email
createdAt
updatedAt
processedAt
cancelledAt
currencyCode
displayFinancialStatus
displayFulfillmentStatus
test
sourceName
discountCodes
customAttributes { key value }
customer { id }
customerJourneySummary { lastVisit { landingPage referrerUrl } firstVisit { landingPage referrerUrl } }
subtotalPriceSet { shopMoney { amount currencyCode } }
totalDiscountsSet { shopMoney { amount currencyCode } }
totalRefundedSet { shopMoney { amount currencyCode } }
totalPriceSet { shopMoney { amount currencyCode } }
totalTaxSet { shopMoney { amount currencyCode } }
totalShippingPriceSet { shopMoney { amount currencyCode } }
"""
