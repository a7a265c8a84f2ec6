"""Pure parts of multibuzz.privacy: subject hashes, consent, hashed traits, the table registry."""

from __future__ import annotations

from datetime import UTC, datetime

from multibuzz.db.base import Base
from multibuzz.privacy.consent import ANONYMOUS_PREFIX, anonymous_visitor_key, lacks_consent
from multibuzz.privacy.hashing import email_hash, hashed_traits
from multibuzz.privacy.registry import KEPT_CONVERSION_PROPERTIES, entries
from multibuzz.privacy.subjects import SubjectRef, subject_hash

KEY = "k" * 32


def test_subject_hash_is_keyed_normalised_and_scoped_to_the_account() -> None:
    one = subject_hash(KEY, "acc_1", "email", " Jane@Example.org ")
    assert one == subject_hash(KEY, "acc_1", "email", "jane@example.org")
    assert len(one) == 64 and "jane" not in one
    assert one != subject_hash(KEY, "acc_2", "email", "jane@example.org")
    assert one != subject_hash("another key", "acc_1", "email", "jane@example.org")
    assert subject_hash(KEY, "acc_1", "user_id", "Abc") != subject_hash(KEY, "acc_1", "user_id", "abc")


def test_subject_refs_round_trip_through_the_queue_message() -> None:
    ref = SubjectRef("user_id", "u-1", ("198.51.100.1",), ("UA/1",))
    assert SubjectRef.from_message(ref.as_message()) == ref


def test_consent_rules() -> None:
    assert lacks_consent(False, False) and lacks_consent(False, True)
    assert not lacks_consent(True, True) and not lacks_consent(True, False)
    assert lacks_consent(None, True) and not lacks_consent(None, False)


def test_cookieless_visitor_lasts_one_day_and_hides_the_cookie() -> None:
    morning, evening = datetime(2026, 5, 1, 8, tzinfo=UTC), datetime(2026, 5, 1, 22, tzinfo=UTC)
    key = anonymous_visitor_key(b"salt", "acc_1", "cookie-123", morning)
    assert key == anonymous_visitor_key(b"salt", "acc_1", "cookie-123", evening)
    assert key != anonymous_visitor_key(b"salt", "acc_1", "cookie-123", datetime(2026, 5, 2, 8, tzinfo=UTC))
    assert key.startswith(ANONYMOUS_PREFIX) and "cookie-123" not in key


def test_identify_traits_keep_the_email_only_as_a_keyed_hash() -> None:
    traits = hashed_traits({"email": " Jane@Example.org", "plan": "pro"}, b"salt")
    assert traits == {"plan": "pro", "email_hash": email_hash(b"salt", "jane@example.org")}
    assert hashed_traits({"plan": "pro"}, b"salt") == {"plan": "pro"}
    assert email_hash(b"salt", "a@b.c") != email_hash(b"other", "a@b.c")


def test_the_registry_covers_the_tables_with_personal_data_and_erases_links_last() -> None:
    names = [e.name for e in entries()]
    assert set(names) <= {t.name for t in Base.metadata.sorted_tables}
    assert {"events", "sessions", "conversions", "clicks", "click_dedup", "visitors", "identities"} <= set(names)
    assert {"fact_orders", "shopify_orders_raw", "shopify_webhooks_raw"} <= set(names)
    assert names[-3:] == ["visitors", "identities", "fact_orders"], "the rows that tie a subject together: last"
    assert names.index("shopify_orders_raw") < names.index("fact_orders")
    conversion = next(e for e in entries() if e.name == "conversions")
    assert conversion.anonymise is not None
    values = conversion.anonymise({"properties": {"email": "x@y.z", "coupon_code": "A", "_group": "acc:vid"}})
    assert values["properties"] == {"coupon_code": "A", "_erased": True}
    assert values["visitor_id"] is None and values["identity_id"] is None
    assert "email" not in KEPT_CONVERSION_PROPERTIES


def test_a_shopify_payload_loses_every_personal_key_and_keeps_the_money() -> None:
    from multibuzz.commerce.shopify.privacy import scrub

    order = {
        "id": 1,
        "total_price": "80.00",
        "email": "a@b.c",
        "customer": {"id": 9, "email": "a@b.c"},
        "shippingAddress": {"address1": "1 Road"},
        "note_attributes": [{"name": "_mbuzz_vid", "value": "v"}],
        "line_items": [{"price": "80.00", "properties": [{"name": "gift", "value": "for Ann"}]}],
        "totalPriceSet": {"shopMoney": {"amount": "80.00", "currencyCode": "USD"}},
    }
    assert scrub(order) == {
        "id": 1,
        "total_price": "80.00",
        "line_items": [{"price": "80.00"}],
        "totalPriceSet": {"shopMoney": {"amount": "80.00", "currencyCode": "USD"}},
    }
