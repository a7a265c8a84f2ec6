"""Pure pieces of the ingestion path: timestamps, per-event validation, ids, the token bucket, message sizes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from multibuzz.consumers.envelope import Envelope
from multibuzz.ids import SequentialIds
from multibuzz.ingest import ids
from multibuzz.ingest.enqueue import MAX_MESSAGE_BYTES, Ingestor
from multibuzz.ingest.messages import group_id
from multibuzz.ingest.ratelimit import TokenBuckets, retry_after_header
from multibuzz.ingest.schemas import EventIn, UnifiedEventIn, parse_timestamp
from multibuzz.services.context import KeyPrincipal
from pydantic import ValidationError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-03-01T10:00:00Z", datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("2026-03-01T10:00:00", datetime(2026, 3, 1, 10, tzinfo=UTC)),  # naive = UTC
        ("2026-03-01T12:00:00+02:00", datetime(2026, 3, 1, 10, tzinfo=UTC)),
        (1772359200, datetime(2026, 3, 1, 10, tzinfo=UTC)),
        (1772359200.5, datetime(2026, 3, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("1772359200", datetime(2026, 3, 1, 10, tzinfo=UTC)),
        (1772359200000, datetime(2026, 3, 1, 10, tzinfo=UTC)),  # milliseconds
        (None, None),
    ],
)
def test_parse_timestamp(raw: Any, expected: datetime | None) -> None:
    assert parse_timestamp(raw) == expected


@pytest.mark.parametrize("raw", ["yesterday", True, [], "2026-13-01T00:00:00", float("nan")])
def test_parse_timestamp_rejects(raw: Any) -> None:
    with pytest.raises(ValueError, match=r"must be|epoch|finite"):
        parse_timestamp(raw)


def test_event_validation_bounds() -> None:
    context = {"now": NOW}
    ok = EventIn.model_validate({"event_type": "page_view", "visitor_id": "v", "properties": {}}, context=context)
    assert ok.timestamp is None
    nearly = (NOW + timedelta(hours=23)).isoformat()
    assert EventIn.model_validate({"event_type": "x", "visitor_id": "v", "timestamp": nearly}, context=context)
    for bad in (
        {"event_type": "x", "visitor_id": "v", "timestamp": (NOW + timedelta(days=1, seconds=1)).isoformat()},
        {"event_type": "x", "visitor_id": "v", "timestamp": "1999-12-31T23:59:59Z"},
        {"event_type": "", "visitor_id": "v"},
        {"event_type": "bad\ntype", "visitor_id": "v"},
        {"event_type": "x" * 65, "visitor_id": "v"},
        {"event_type": "x", "visitor_id": "v" * 129},
        {"event_type": "x", "visitor_id": "v", "properties": {"big": "x" * (32 * 1024)}},
        {"event_type": "x", "visitor_id": "v", "properties": []},
    ):
        with pytest.raises(ValidationError):
            EventIn.model_validate(bad, context=context)


def test_unified_event_becomes_an_mbuzz_event() -> None:
    raw = {
        "action": "purchase",
        "user_id": "u1",
        "value": "10.50",
        "currency": "usd",
        "coupon_code": "C",
        "ref_code": "r",
        "landing_url": "https://a.example/",
        "properties": {"order": 1, "url": "https://b.example/"},
    }
    tracked = UnifiedEventIn.model_validate(raw, context={"now": NOW}).track(raw["properties"])  # type: ignore[arg-type]
    assert tracked.event_type == "purchase"
    assert tracked.properties == {
        "order": 1,
        "url": "https://b.example/",
        "value": 10.5,
        "currency": "USD",
        "coupon_code": "C",
        "ref_code": "r",
    }
    assert tracked.url == "https://b.example/", "properties.url wins over landing_url"
    custom = UnifiedEventIn.model_validate({"action": "custom", "event_type": "quiz_done", "visitor_id": "v"})
    assert custom.track({}).event_type == "quiz_done"
    whole = UnifiedEventIn.model_validate({"action": "signup", "visitor_id": "v", "value": 3})
    assert whole.track({}).properties == {"value": 3}


def test_ids_are_deterministic_per_account_and_client_id() -> None:
    seq = SequentialIds()
    first = ids.event_id(seq, "acc_1", "client-1")
    assert first == ids.event_id(seq, "acc_1", "client-1") and first.startswith("evt_") and len(first) == 30
    assert first != ids.event_id(seq, "acc_2", "client-1")
    assert ids.event_id(seq, "acc_1", None) != ids.event_id(seq, "acc_1", None)
    assert ids.identity_id("acc_1", "u") == ids.identity_id("acc_1", "u") != ids.identity_id("acc_1", "v")
    assert set(ids.digest("x")) <= set("0123456789abcdefghjkmnpqrstvwxyz")
    assert ids.derived_id("p", "a", "bc") != ids.derived_id("p", "ab", "c"), "parts are joined unambiguously"


def test_token_bucket_refills_continuously() -> None:
    clock = [0.0]
    buckets = TokenBuckets(now=lambda: clock[0])
    assert [buckets.take("k", 60) for _ in range(60)] == [0.0] * 60
    wait = buckets.take("k", 60)
    assert wait == pytest.approx(1.0)
    assert buckets.take("other", 60) == 0.0, "keys have their own buckets"
    clock[0] += 0.5
    assert buckets.take("k", 60) == pytest.approx(0.5)
    clock[0] += 0.5
    assert buckets.take("k", 60) == 0.0
    assert retry_after_header(0.2) == 1 and retry_after_header(1.01) == 2


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send_batch(self, queue: str, messages: Any) -> list[Any]:
        from multibuzz.adapters.queue.base import SendResult

        self.sent.extend(messages)
        return [SendResult(i, f"m{i}") for i in range(len(messages))]


def test_one_message_per_visitor_split_under_the_sqs_limit() -> None:
    queue = Recorder()
    principal = KeyPrincipal("acc_1", "key_1", "live", {}, None)
    ingestor = Ingestor(principal, queue, SequentialIds(), NOW, "secret")
    raw = [{"event_type": "page_view", "visitor_id": "v1", "properties": {"blob": "x" * 30_000}} for _ in range(20)] + [
        {"event_type": "page_view", "visitor_id": "v2"},
        {"event_type": "signup", "user_id": "u9"},
    ]
    valid, errors = ingestor.validate_events(raw)
    outcome = ingestor.track(valid, errors)
    assert outcome.errors == [] and [i for i, _ in outcome.accepted] == list(range(22))
    groups = [m.group_id for m in queue.sent]
    assert groups.count(group_id("acc_1", "v1", None)) >= 3
    assert groups[-2:] == ["acc_1:v2", "acc_1:user:u9"]
    for message in queue.sent:
        assert len(message.body.encode()) < 256 * 1024 and len(message.body.encode()) <= MAX_MESSAGE_BYTES + 40_000
        envelope = Envelope.loads(message.body)
        assert envelope.kind == "events.track" and message.dedup_id == envelope.id
    v1_events = [
        e["id"] for m in queue.sent if m.group_id == "acc_1:v1" for e in Envelope.loads(m.body).payload["events"]
    ]
    assert v1_events == [event_id for _, event_id in outcome.accepted[:20]], "order is kept within a visitor"
