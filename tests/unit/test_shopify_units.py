"""Pure Shopify pieces: order parsing (REST and GraphQL agree), money rules, HMACs, the OAuth state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from multibuzz.commerce.fakes.shopify import FakeShopify, sign_body, sign_query, to_graphql
from multibuzz.commerce.shopify.connect import query_hmac_ok
from multibuzz.commerce.shopify.orders import OrderPayloadError, customer_ref, from_graphql, from_rest, order_day
from multibuzz.commerce.shopify.webhooks import verify


def _order(**kwargs: object) -> dict[str, object]:
    fake = FakeShopify()
    return fake.add_order("u.myshopify.com", **kwargs)  # type: ignore[arg-type]


def test_rest_and_graphql_shapes_give_the_same_facts() -> None:
    order = _order(
        total="100.00",
        discount="15.00",
        discount_codes=["ANA15"],
        note_attributes={"_mbuzz_vid": "f" * 64},
        landing_site="/p?utm_source=ig&utm_campaign=spring&ref_code=ab12",
        customer_id=9,
    )
    rest, graph = from_rest(order), from_graphql(to_graphql(order))
    for name in ("shopify_order_id", "gross", "discounts", "refunds", "net", "currency", "order_updated_at"):
        assert getattr(rest, name) == getattr(graph, name), name
    assert (rest.gross, rest.discounts, rest.net) == (Decimal("100.00"), Decimal("15.00"), Decimal("85.00"))
    assert rest.visitor_key == graph.visitor_key == "f" * 64
    assert rest.ref_code == "ab12" and rest.utm() == {"utm_source": "ig", "utm_campaign": "spring"}
    assert rest.discount_codes == graph.discount_codes == ["ANA15"]
    assert rest.shopify_customer_id == graph.shopify_customer_id == "9"


def test_refunds_reduce_net_and_cancellation_zeroes_it() -> None:
    fake = FakeShopify()
    order = fake.add_order("u.myshopify.com", total="50.00")
    fake.refund("u.myshopify.com", order["id"], "20.00", datetime.now(UTC))
    facts = from_rest(order)
    assert (facts.refunds, facts.net, facts.financial_status) == (
        Decimal("20.00"),
        Decimal("30.00"),
        "partially_refunded",
    )
    order["cancelled_at"] = "2026-01-02T00:00:00Z"
    assert from_rest(order).net == Decimal("0")


def test_an_order_without_id_or_updated_at_is_refused() -> None:
    with pytest.raises(OrderPayloadError):
        from_rest({"updated_at": "2026-01-01T00:00:00Z"})
    with pytest.raises(OrderPayloadError):
        from_rest({"id": 1, "created_at": "2026-01-01T00:00:00Z"})


def test_order_day_is_in_the_account_time_zone() -> None:
    late = datetime(2026, 3, 1, 3, 30, tzinfo=UTC)  # 22:30 the day before in New York
    facts = from_rest(_order(created_at=late))
    assert order_day(facts, "UTC").isoformat() == "2026-03-01"
    assert order_day(facts, "America/New_York").isoformat() == "2026-02-28"


def test_customer_ref_is_the_customer_id_else_a_keyed_email_hash() -> None:
    with_id = from_rest(_order(customer_id=5, email="A@Example.com"))
    guest = from_rest(_order(email="A@Example.com"))
    assert customer_ref(with_id, b"k")[0] == "shopify:5"
    ref, hashed = customer_ref(guest, b"k")
    assert ref is not None and ref.startswith("email:") and "example" not in ref
    assert hashed == customer_ref(from_rest(_order(email="a@example.com ")), b"k")[1]  # normalised
    assert hashed != customer_ref(guest, b"other-key")[1]  # keyed


def test_webhook_hmac_is_base64_of_the_raw_body() -> None:
    body = b'{"id": 1}'
    good = sign_body(body, "s3cret")
    assert verify(body, good, ["s3cret"])
    assert verify(body, good, ["other", "s3cret"])  # a custom app's own secret
    assert not verify(body + b" ", good, ["s3cret"])
    assert not verify(body, good, ["wrong"])
    assert not verify(body, None, ["s3cret"])
    assert not verify(body, good, [""])  # an unset secret never verifies


def test_webhook_hmac_one_shot_digest_is_the_hmac_object_digest() -> None:
    """verify() uses the one-shot ``hmac.digest``: the same bytes as ``hmac.new(...).digest()``."""
    import base64
    import hashlib
    import hmac

    from multibuzz.commerce.shopify.webhooks import signature

    for body in (b"", b'{"id": 1}', bytes(range(256)) * 40, "ünïcode".encode()):
        for secret in ("s3cret", "ü" * 100):  # a key longer than SHA-256's block is hashed first
            expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
            assert signature(body, secret) == expected == sign_body(body, secret)
            assert verify(body, expected, [secret]) and verify(body, f" {expected} ", [secret])


def test_email_hash_one_shot_is_the_keyed_sha256_hexdigest() -> None:
    import hashlib
    import hmac

    from multibuzz.commerce.shopify.orders import email_hash

    for email in ("a@example.com", " A@Example.COM ", "ünï@exämple.de", ""):
        for key in (b"k", b"shopify-email:" + b"x" * 80):
            expected = hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()
            assert email_hash(email, key) == expected


def test_oauth_query_hmac() -> None:
    params = {"code": "c", "shop": "u.myshopify.com", "state": "x", "timestamp": "1"}
    params["hmac"] = sign_query(params, "s3cret")
    assert query_hmac_ok(params, "s3cret")
    assert not query_hmac_ok({**params, "shop": "evil.myshopify.com"}, "s3cret")
    assert not query_hmac_ok(params, "")


def test_graphql_updated_at_orders_newest() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    older = from_graphql(to_graphql(_order(created_at=now, updated_at=now)))
    newer = from_graphql(to_graphql(_order(created_at=now, updated_at=now + timedelta(seconds=1))))
    assert newer.order_updated_at > older.order_updated_at
