"""Operability (issue #16): EMF metrics with exact values for a scripted scenario, and one request id from
the gateway through the queue into the consumer's log lines and the stored rows. SQLite and MariaDB."""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from multibuzz.adapters.queue.base import QueueUnavailableError
from multibuzz.bootstrap import Container
from multibuzz.redirect.cache import LinkSnapshot, TtlCache
from multibuzz.redirect.publisher import DirectClickPublisher
from multibuzz.redirect.service import Redirector
from multibuzz.telemetry import metrics
from multibuzz.telemetry.invocation import reset_cold_starts

from infra.local.dispatch import deliver_once, load_handler
from tests.conftest import Api, Tenant
from tests.functional.test_redirect_handler import event as redirect_event
from tests.functional.test_redirect_handler import make_link

VISITOR = "b" * 64
URL = "https://shop.example/"


@pytest.fixture(autouse=True)
def _no_lookup_grace(container: Container) -> None:
    object.__setattr__(container.settings, "conversion_lookup_grace_seconds", 0.0)


@pytest.fixture
def emf() -> Iterator[list[str]]:
    """Every EMF line flushed from now on (every invocation flushes: flush interval 0)."""
    lines: list[str] = []
    recorder = metrics.recorder
    saved = recorder.sink, recorder.flush_seconds
    recorder.flush()
    recorder.reset()
    reset_cold_starts()
    recorder.sink, recorder.flush_seconds = lines.append, 0.0
    yield lines
    recorder.sink, recorder.flush_seconds = saved


def totals(lines: list[str]) -> dict[tuple[str, str, tuple[tuple[str, str], ...]], list[float]]:
    """(function, metric, extra dimensions) -> every value, read back from the EMF documents."""
    out: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[float]] = defaultdict(list)
    for line in lines:
        doc = json.loads(line)
        directive = doc["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "Multibuzz"
        (dimension_names,) = directive["Dimensions"]
        assert dimension_names[:2] == ["function", "stage"], "function and stage on every metric"
        assert doc["stage"] == "test"
        extra = tuple((name, doc[name]) for name in dimension_names[2:])
        for definition in directive["Metrics"]:
            value = doc[definition["Name"]]
            out[(doc["function"], definition["Name"], extra)].extend(value if isinstance(value, list) else [value])
    return dict(out)


def drain(container: Container) -> None:
    handler = load_handler("attribution")
    while sum(deliver_once(container.local_queue, q, handler, batch_size=10).received for q in ("ingest", "clicks")):
        pass


def post(api: Api, tenant: Tenant, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    response = api.client.post(path, json=body, headers=api.auth(tenant.api_key))
    assert response.status_code in (200, 202), response.text
    return response.json(), response.headers["apigw-requestid"]


def test_each_metric_is_emitted_once_per_thing_it_counts(api: Api, container: Container, emf: list[str]) -> None:
    tenant = api.tenant("Ops Store")
    emf.clear()
    metrics.recorder.reset()
    reset_cold_starts()

    batch, _ = post(
        api,
        tenant,
        "/api/v1/events",
        {
            "events": [
                {"event_type": "page_view", "visitor_id": VISITOR, "properties": {"url": URL}},
                {"event_type": "add_to_cart", "visitor_id": VISITOR, "properties": {"url": URL}},
                {"visitor_id": VISITOR},  # no event_type: rejected, the others go on
            ]
        },
    )
    assert (batch["accepted"], batch["rejected"]) == (2, 1)
    post(api, tenant, "/api/v1/sessions", {"session": {"visitor_id": VISITOR, "url": URL}})
    drain(container)
    conversion, _ = post(
        api, tenant, "/api/v1/conversions", {"conversion_type": "signup", "visitor_id": VISITOR, "revenue": "10.00"}
    )
    purchase, _ = post(
        api, tenant, "/api/v1/events", {"action": "purchase", "visitor_id": VISITOR, "value": 5, "currency": "USD"}
    )
    drain(container)
    metrics.flush()

    got = totals(emf)
    counted = {key: sum(values) for key, values in got.items() if key[1] not in ("AttributionLag", "BatchSize")}
    assert counted == {
        ("events", "ColdStarts", ()): 1,
        ("events", "EventsAccepted", ()): 3,  # two of the batch, the purchase
        ("events", "EventsRejected", (("reason", "validation"),)): 1,
        ("events", "ConversionsAccepted", ()): 2,  # POST /conversions and the purchase event
        ("attribution", "ColdStarts", ()): 1,
        ("attribution", "EventsStored", ()): 3,
        ("attribution", "SessionsStarted", ()): 1,  # one visit: the hits continue it
        ("attribution", "ConversionsAttributed", ()): 2,
    }
    lags = got[("attribution", "AttributionLag", ())]
    assert len(lags) == 2 and all(lag >= 0 for lag in lags), "one lag per attributed conversion"
    batches = got[("attribution", "BatchSize", (("queue", "ingest"),))]
    assert sum(batches) == 4, "events message, session hit, conversion message, purchase events message"
    assert conversion["conversion"]["status"] == "pending" and purchase["conversion_id"].startswith("conv_")

    # Redelivery of what was already stored counts nothing again.
    emf.clear()
    drain(container)
    metrics.flush()
    assert emf == []


def test_the_request_id_follows_a_request_to_the_consumer_logs_and_the_stored_rows(
    api: Api, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = api.tenant("Traced Store")
    _, events_request = post(
        api,
        tenant,
        "/api/v1/events",
        {"events": [{"event_type": "page_view", "visitor_id": VISITOR, "properties": {"url": URL}}] * 1},
    )
    _, other_request = post(api, tenant, "/api/v1/events", {"event_type": "add_to_cart", "visitor_id": VISITOR})
    assert events_request != other_request
    caplog.set_level(logging.INFO)
    caplog.clear()
    drain(container)
    stored = [vars(record) for record in caplog.records if record.getMessage() == "message stored"]
    assert {line["correlation_id"] for line in stored} == {events_request, other_request}
    assert all(line["kind"] == "events.track" and line["account_id"] == tenant.account_id for line in stored)

    listed = api.client.get("/api/v1/events", headers=api.auth(tenant.owner_token))
    assert listed.status_code == 200, listed.text
    by_type = {event["event_type"]: event["request_id"] for event in listed.json()["data"]}
    assert by_type == {"page_view": events_request, "add_to_cart": other_request}

    conversion, conversion_request = post(
        api, tenant, "/api/v1/conversions", {"conversion_type": "signup", "visitor_id": VISITOR, "revenue": "1"}
    )
    assert conversion["conversion"]["request_id"] == conversion_request
    purchase, purchase_request = post(
        api, tenant, "/api/v1/events", {"action": "purchase", "visitor_id": VISITOR, "value": 5, "currency": "USD"}
    )
    caplog.clear()
    drain(container)
    consumer_lines = [vars(record) for record in caplog.records if record.name.startswith("multibuzz")]
    assert consumer_lines and all(line.get("correlation_id") for line in consumer_lines), "every consumer line"
    assert {line["correlation_id"] for line in consumer_lines if line["msg"] == "message stored"} == {
        conversion_request,
        purchase_request,
    }
    for conversion_id, request_id in (
        (conversion["conversion"]["id"], conversion_request),
        (purchase["conversion_id"], purchase_request),  # created by the consumer from the purchase event
    ):
        answer = api.client.get(f"/api/v1/conversions/{conversion_id}", headers=api.auth(tenant.api_key))
        assert answer.status_code == 200, answer.text
        assert answer.json()["conversion"]["status"] == "attributed"
        assert answer.json()["conversion"]["request_id"] == request_id


def test_admin_metrics_summarises_what_was_flushed_for_platform_admins_only(
    api: Api, container: Container, emf: list[str]
) -> None:
    tenant = api.tenant("Admin View")
    post(api, tenant, "/api/v1/events", {"event_type": "page_view", "visitor_id": VISITOR})
    drain(container)
    owner = api.client.get("/api/v1/admin/metrics", headers=api.auth(tenant.owner_token))
    assert owner.status_code == 403, owner.text
    assert api.client.get("/api/v1/admin/metrics").status_code == 401
    answer = api.client.get("/api/v1/admin/metrics", headers=api.auth(api.admin_token()))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["namespace"], body["stage"], body["scope"]) == ("Multibuzz", "test", "process")
    rows = {(row["function"], row["metric"]): row for row in body["metrics"]}
    assert rows[("events", "EventsAccepted")]["sum"] == 1
    assert rows[("attribution", "EventsStored")]["sum"] == 1
    batch = rows[("attribution", "BatchSize")]
    assert (batch["dimensions"], batch["samples"], batch["p50"], batch["max"]) == ({"queue": "ingest"}, 1, 1, 1)


class _DownQueue:
    """The clicks queue unreachable (the redirect then spools the click)."""

    def send_batch(self, queue: str, messages: Any) -> Any:
        raise QueueUnavailableError("connection refused")


def test_redirect_metrics_cache_hits_misses_and_spooled_clicks(container: Container, emf: list[str]) -> None:
    link = make_link(container)
    redirector = Redirector(lambda: container, cache=TtlCache[LinkSnapshot](), journal=False)
    for _ in range(2):
        assert redirector(redirect_event(link.code))["statusCode"] == 302
    spool = redirector.spool(container)
    redirector._publishers[id(container)] = DirectClickPublisher(lambda: _DownQueue(), spool)  # type: ignore[arg-type]
    assert redirector(redirect_event(link.code))["statusCode"] == 302
    assert redirector(redirect_event("nosuchcode"))["statusCode"] == 404
    drain(container)
    metrics.flush()
    counted = {key: sum(values) for key, values in totals(emf).items() if key[1] != "BatchSize"}
    assert counted == {
        ("redirect", "ColdStarts", ()): 1,
        ("redirect", "Redirects", ()): 3,
        ("redirect", "RedirectCacheMisses", ()): 2,  # the link's first lookup, the unknown code
        ("redirect", "RedirectCacheHits", ()): 2,
        ("redirect", "ClicksSpooled", ()): 1,
        ("attribution", "ColdStarts", ()): 1,
        ("attribution", "ClicksRecorded", ()): 2,
    }


def test_the_watchdog_counts_accounts_that_went_silent(api: Api, container: Container, emf: list[str]) -> None:
    from datetime import timedelta

    from multibuzz.jobs import watchdog

    chatty, quiet = api.tenant("Chatty"), api.tenant("Quiet")
    two_hours_ago = (container.clock.now() - timedelta(hours=2)).isoformat()
    for tenant in (chatty, quiet):
        post(
            api,
            tenant,
            "/api/v1/events",
            {"events": [{"event_type": "page_view", "visitor_id": VISITOR, "timestamp": two_hours_ago}] * 3},
        )
    post(api, chatty, "/api/v1/events", {"event_type": "page_view", "visitor_id": VISITOR})
    drain(container)
    emf.clear()
    handler = load_handler("sync")
    result = handler({"detail-type": "multibuzz.watchdog", "detail": {"min_weekly_events": 3}}, None)
    assert result["result"] == {"silent_accounts": [quiet.account_id], "sync_age_seconds": {}}  # no integrations
    assert totals(emf)[("sync", "SilentAccounts", ())] == [1]
    assert watchdog.silent_accounts(container, min_weekly_events=4) == [], "3 events a week is not its habit at 4"


def test_the_local_runner_flushes_counters_when_requests_stop(container: Container, emf: list[str]) -> None:
    from infra.local.scheduler import SchedulerThread

    metrics.set_function("events")
    metrics.count(metrics.Metric.EVENTS_ACCEPTED, 4)
    scheduler = SchedulerThread()
    scheduler.start()
    try:
        deadline = time.monotonic() + 30
        while not emf and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
        scheduler.join(timeout=10)
        metrics.set_function("unknown")
    assert totals(emf) == {("events", "EventsAccepted", ()): [4]}


def test_a_poison_message_is_one_partial_failure(container: Container, emf: list[str]) -> None:
    from multibuzz.adapters.queue.base import OutgoingMessage

    container.local_queue.send_batch(
        "clicks", [OutgoingMessage('{"kind": "click.record"}'), OutgoingMessage('{"kind": "no.such.kind", "x": 1}')]
    )
    report = deliver_once(container.local_queue, "clicks", load_handler("attribution"), batch_size=10, max_attempts=1)
    assert (report.received, report.succeeded, report.dead) == (2, 0, 2)
    metrics.flush()
    got = totals(emf)
    assert got[("attribution", "BatchPartialFailures", (("queue", "clicks"),))] == [2]
    assert got[("attribution", "BatchSize", (("queue", "clicks"),))] == [2]

    emf.clear()
    unknown_link = {"click_id": "clk_1", "link_id": "lnk_gone", "occurred_at": "2026-12-01T10:00:00+00:00"}
    good = json.dumps({"kind": "click.record", "id": "clk_1", "account_id": "acc_x", "payload": unknown_link})
    container.local_queue.send_batch("clicks", [OutgoingMessage(good), OutgoingMessage('{"kind": "click.record"}')])
    report = deliver_once(container.local_queue, "clicks", load_handler("attribution"), batch_size=2)
    assert (report.received, report.succeeded) == (2, 1)
    metrics.flush()
    assert totals(emf)[("attribution", "BatchPartialFailures", (("queue", "clicks"),))] == [1]


def test_an_unattributable_conversion_counts_as_failed(api: Api, container: Container, emf: list[str]) -> None:
    from datetime import UTC, datetime

    from tests.functional.test_conversion_hardening import _stored_pending
    from tests.functional.test_conversions import seed_visitor

    tenant = api.tenant("Failing")
    seed_visitor(container, tenant.account_id, "client-visitor-7", [("email", 1)])
    _stored_pending(container, tenant.account_id, "client-visitor-7", datetime(1, 1, 1, tzinfo=UTC))
    post(api, tenant, "/api/v1/conversions", {"conversion_type": "purchase", "visitor_id": "client-visitor-7"})
    emf.clear()
    drain(container)
    metrics.flush()
    got = totals(emf)
    assert got[("attribution", "ConversionsFailed", ())] == [1]
    assert got[("attribution", "ConversionsAttributed", ())] == [1]
    assert len(got[("attribution", "AttributionLag", ())]) == 1, "a lag only for the attributed one"
