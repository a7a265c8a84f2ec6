"""Delivery on the wire: batching, retries with the same idempotency keys, Retry-After, dropping, signing, sync mode."""

from __future__ import annotations

import hashlib
import hmac
import logging
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import multibuzz_client as multibuzz
import pytest
from multibuzz_client import Client
from multibuzz_client.transport import parse_retry_after

from tests.client.conftest import KEY, FakeMultibuzz, wait_for

VID = "f" * 64


def fast(fake: FakeMultibuzz, **options: object) -> Client:
    values: dict[str, object] = {
        "api_key": KEY,
        "api_url": fake.url,
        "flush_interval": 0.02,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
        "flush_at_exit": False,
    }
    values.update(options)
    return Client(**values)  # type: ignore[arg-type]


def test_events_are_batched_up_to_the_api_limit(fake: FakeMultibuzz) -> None:
    client = fast(fake, flush_interval=60)  # nothing leaves before flush(): one drain sees all 2500
    ids = [client.track("view_item", {"n": i}, visitor_id=VID) for i in range(2500)]
    assert client.flush(20)
    batches = [r.json["events"] for r in fake.received if r.path == "/api/v1/events"]
    assert [len(b) for b in batches] == [1000, 1000, 500]
    assert [e["event_id"] for b in batches for e in b] == ids, "in order, each once"
    assert len({r.headers["idempotency-key"] for r in fake.received}) == 3
    assert client.stats()["sent"] == 2500


def test_a_batch_stays_under_the_body_limit(fake: FakeMultibuzz) -> None:
    client = fast(fake, flush_interval=60)
    for i in range(60):
        client.track("big", {"blob": "x" * 30_000, "n": i}, visitor_id=VID)
    assert client.flush(20)
    sizes = [len(r.raw) for r in fake.received]
    assert len(sizes) >= 2 and max(sizes) < 1024 * 1024
    assert sum(len(r.json["events"]) for r in fake.received) == 60


def test_429_and_5xx_are_retried_with_the_same_idempotency_key_and_event_ids(fake: FakeMultibuzz) -> None:
    fake.script = [(503, {}, {"error": "unavailable"}), (429, {"Retry-After": "0"}, {"error": "rate_limited"})]
    client = fast(fake)
    client.track("signup", {"plan": "pro"}, visitor_id=VID)
    client.conversion("purchase", Decimal("49.90"), "EUR", visitor_id=VID, idempotency_key="order-7")
    assert client.flush(20)
    events = [r for r in fake.received if r.path == "/api/v1/events"]
    conversions = [r for r in fake.received if r.path == "/api/v1/conversions"]
    attempts = events + conversions
    assert len(attempts) == 4, "two refusals, then each request once"
    assert len({r.headers["idempotency-key"] for r in events}) == 1
    assert {r.json["events"][0]["event_id"] for r in events} == {events[0].json["events"][0]["event_id"]}
    assert conversions[-1].headers["idempotency-key"] == "order-7"
    assert conversions[-1].json == {
        "conversion": {
            "conversion_type": "purchase",
            "properties": {},
            "is_acquisition": False,
            "inherit_acquisition": False,
            "visitor_id": VID,
            "revenue": "49.90",
            "currency": "EUR",
        }
    }
    stats = client.stats()
    assert (stats["sent"], stats["retries"], stats["failed"]) == (2, 2, 0)


def test_backoff_is_exponential_with_jitter_and_retry_after_is_a_floor(fake: FakeMultibuzz) -> None:
    client = fast(fake, backoff_base=0.5, backoff_cap=30)
    for attempt, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (8, 30.0), (20, 30.0)):
        delays = {client.sender.backoff(attempt, None) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays) and len(delays) > 1
    assert client.sender.backoff(1, 7.0) >= 7.0
    assert parse_retry_after("3") == 3.0 and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0, "a date in the past: retry now"


def test_a_4xx_is_not_retried_and_is_logged(fake: FakeMultibuzz, caplog: pytest.LogCaptureFixture) -> None:
    fake.script = [(401, {}, {"error": "authentication_failed", "message": "invalid API key"})]
    client = fast(fake)
    with caplog.at_level(logging.ERROR, "multibuzz_client"):
        client.track("signup", visitor_id=VID)
        assert client.flush(10)
    assert len(fake.received) == 1 and client.stats()["rejected"] == 1
    assert "HTTP 401" in caplog.text and "invalid API key" in caplog.text


def test_unreachable_after_the_last_retry_the_batch_is_dropped_and_counted(
    fake: FakeMultibuzz, caplog: pytest.LogCaptureFixture
) -> None:
    fake.script = [(502, {}, {})] * 3
    client = fast(fake, max_retries=2)
    with caplog.at_level(logging.WARNING, "multibuzz_client"):
        assert client.track("signup", visitor_id=VID) is not None
        assert client.flush(10)
    assert len(fake.received) == 3 and client.stats()["failed"] == 1
    assert "dropped 1 event item(s)" in caplog.text


def test_a_full_queue_drops_the_oldest_and_counts_it(fake: FakeMultibuzz, caplog: pytest.LogCaptureFixture) -> None:
    fake.gate.clear()  # Multibuzz hangs: the sender is stuck on its first request
    client = fast(fake, max_queue=10, batch_size=1, senders=1)
    first = client.track("e", {"n": 0}, visitor_id=VID)
    wait_for(
        lambda: client.sender.pending() == 1 and not client.sender._lanes[0].queue, what="the first event in flight"
    )
    with caplog.at_level(logging.WARNING, "multibuzz_client"):
        ids = [client.track("e", {"n": n}, visitor_id=VID) for n in range(1, 16)]
    assert all(ids), "the host app never sees the drop"
    assert client.stats()["dropped"] == 5
    assert "queue full" in caplog.text
    fake.gate.set()
    assert client.flush(10)
    assert [e["event_id"] for e in fake.events()] == [first, *ids[5:]], "the oldest five queued were dropped"


def test_a_malformed_payload_is_logged_not_raised(fake: FakeMultibuzz, caplog: pytest.LogCaptureFixture) -> None:
    client = fast(fake, flush_interval=60)
    with caplog.at_level(logging.ERROR, "multibuzz_client"):
        good = client.track("ok", {"n": 1}, visitor_id=VID)
        assert client.track("bad", {"when": object()}, visitor_id=VID) is not None
        assert client.track("", visitor_id=VID) is None
        assert client.track("orphan") is None  # no visitor outside a request
        assert client.conversion("purchase", revenue=["not", "a", "number"], visitor_id=VID) is None
        assert client.event("refund", 10, visitor_id=VID) is None
        assert client.flush(10)
    assert [e["event_id"] for e in fake.events()] == [good]
    assert client.stats()["malformed"] == 1
    for text in ("malformed event payload", "event_type must be a non-empty string", "no visitor_id or user_id",
                 "revenue must be a number", "action must be one of"):  # fmt: skip
        assert text in caplog.text


def test_events_the_server_rejects_are_logged(fake: FakeMultibuzz, caplog: pytest.LogCaptureFixture) -> None:
    error = {"index": 1, "field": "events[1].timestamp", "message": "is more than 1 day in the future"}
    fake.script = [
        (202, {}, {"accepted": 1, "rejected": 1, "events": [{"index": 0, "id": "evt_1"}], "errors": [error]})
    ]
    client = fast(fake, flush_interval=60)
    with caplog.at_level(logging.ERROR, "multibuzz_client"):
        client.track("a", visitor_id=VID)
        client.track("b", visitor_id=VID, timestamp=4_000_000_000)
        assert client.flush(10)
    assert (client.stats()["sent"], client.stats()["rejected"]) == (1, 1)
    assert "events[1].timestamp" in caplog.text


def test_requests_are_signed_when_a_signing_secret_is_configured(fake: FakeMultibuzz) -> None:
    client = fast(fake, signing_secret="whsec_topsecret")
    client.track("signup", visitor_id=VID)
    client.event("purchase", 99, "BEN10", currency="USD", visitor_id=VID)
    assert client.flush(10)
    for request in fake.received:
        expected = hmac.new(b"whsec_topsecret", request.raw, hashlib.sha256).hexdigest()
        assert request.headers["x-signature"] == expected
    unified = next(r.json for r in fake.received if "action" in (r.json or {}))
    assert (unified["action"], unified["value"], unified["coupon_code"], unified["currency"]) == (
        "purchase",
        "99",
        "BEN10",
        "USD",
    )
    unsigned = fast(fake)
    unsigned.track("signup", visitor_id=VID)
    assert unsigned.flush(10)
    assert "x-signature" not in fake.received[-1].headers


def test_sync_mode_sends_before_the_call_returns(fake: FakeMultibuzz) -> None:
    client = fast(fake, sync=True)
    client.track("signup", visitor_id=VID)
    assert [r.path for r in fake.received] == ["/api/v1/events"]
    client.identify("user-1", visitor_id=VID)
    assert fake.received[-1].path == "/api/v1/identify"
    assert all(lane.thread is None for lane in client.sender._lanes), "no background thread in a short-lived process"


def test_queued_events_are_flushed_when_the_process_exits(fake: FakeMultibuzz, tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import multibuzz_client as multibuzz
            multibuzz.configure(api_key={KEY!r}, api_url={fake.url!r}, flush_interval=60)
            for n in range(3):
                multibuzz.track("job_step", {{"n": n}}, visitor_id={VID!r})
            """
        )
    )
    subprocess.run([sys.executable, str(script)], check=True, timeout=60)
    assert [e["properties"]["n"] for e in fake.events()] == [0, 1, 2]


def test_module_level_calls_use_the_configured_client(fake: FakeMultibuzz) -> None:
    multibuzz.configure(api_key=KEY, api_url=fake.url, flush_interval=0.02, flush_at_exit=False)
    assert multibuzz.track("signup", {"plan": "pro"}, visitor_id=VID)
    assert multibuzz.identify("user-9", {"email": "a@b.c"}, visitor_id=VID)
    assert multibuzz.conversion("purchase", 10, "USD", visitor_id=VID)
    assert multibuzz.event("add_to_cart", visitor_id=VID)
    assert multibuzz.flush(10)
    assert sorted(fake.paths()) == ["/api/v1/conversions", "/api/v1/events", "/api/v1/events", "/api/v1/identify"]


def test_two_sender_threads_keep_each_visitors_items_in_order(fake: FakeMultibuzz) -> None:
    client = fast(fake, senders=2, batch_size=7)
    visitors = [f"{n:064x}" for n in range(20)]
    expected: dict[str, list[str | None]] = {v: [] for v in visitors}
    for step in range(10):
        for visitor in visitors:
            expected[visitor].append(client.track("step", {"n": step}, visitor_id=visitor))
    assert client.flush(20)
    got: dict[str, list[str | None]] = {v: [] for v in visitors}
    for event in fake.events():
        got[event["visitor_id"]].append(event["event_id"])
    assert got == expected
    assert all(lane.thread is not None for lane in client.sender._lanes), "both threads carried visitors"
