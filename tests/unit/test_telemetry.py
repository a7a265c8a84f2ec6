"""Units of multibuzz.telemetry: the correlation id's carriers, EMF documents, transactional counting."""

from __future__ import annotations

import json
import logging
import threading

from multibuzz.adapters.queue.journal import _ENCODE, _header
from multibuzz.telemetry import correlation, metrics


def test_the_correlation_id_comes_from_api_gateway_and_from_the_sqs_attribute() -> None:
    assert correlation.from_http_event({"requestContext": {"requestId": "JfYfWgfGIAMESgw="}}) == "JfYfWgfGIAMESgw="
    assert correlation.from_http_event({"requestContext": {}}) is None
    # A record as Lambda hands it over (AWS docs, "Using Lambda with Amazon SQS").
    record = {
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "body": "{}",
        "messageAttributes": {
            "correlation_id": {
                "stringValue": "JfYfWgfGIAMESgw=",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            }
        },
    }
    assert correlation.from_sqs_record(record) == "JfYfWgfGIAMESgw="
    assert correlation.from_sqs_record({"messageAttributes": {}}) is None
    assert correlation.from_sqs_record({"messageAttributes": {"correlation_id": {"stringValue": "x" * 500}}}) == (
        "x" * correlation.MAX_LENGTH
    )


def test_message_attributes_and_log_lines_follow_the_current_request_only() -> None:
    assert correlation.message_attributes() == {}
    token = correlation.set_current("req-1")
    try:
        assert correlation.message_attributes() == {"correlation_id": "req-1"}
        seen: list[str | None] = []
        other = threading.Thread(target=lambda: seen.append(correlation.current()))
        other.start()
        other.join()
        assert seen == [None], "another thread (another request) does not inherit the id"
        record = logging.LogRecord("multibuzz", logging.INFO, __file__, 1, "hello", None, None)
        assert correlation.CorrelationFilter().filter(record)
        assert record.correlation_id == "req-1"  # type: ignore[attr-defined]
    finally:
        correlation.reset(token)
    assert correlation.current() is None


def test_the_journal_header_with_attributes_is_the_json_encoders_text() -> None:
    attributes = {"correlation_id": 'local-1-"quoted"-é'}
    assert _header("ingest", "acc:v", "evts_1", attributes) == _ENCODE(
        {"q": "ingest", "g": "acc:v", "d": "evts_1", "a": attributes}
    )
    assert _header("clicks", None, None) == _ENCODE({"q": "clicks", "g": None, "d": None})


def test_an_emf_document_has_the_namespace_dimensions_units_and_values() -> None:
    line = metrics.emf_document(
        "attribution",
        (("queue", "ingest"),),
        [(metrics.Metric.BATCH_SIZE, [3.0, 10.0]), (metrics.Metric.BATCH_PARTIAL_FAILURES, 1.0)],
        stage="prod",
    )
    doc = json.loads(line)
    (directive,) = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Multibuzz"
    assert directive["Dimensions"] == [["function", "stage", "queue"]]
    assert directive["Metrics"] == [
        {"Name": "BatchSize", "Unit": "Count"},
        {"Name": "BatchPartialFailures", "Unit": "Count"},
    ]
    assert (doc["function"], doc["stage"], doc["queue"]) == ("attribution", "prod", "ingest")
    assert (doc["BatchSize"], doc["BatchPartialFailures"]) == ([3.0, 10.0], [1.0])
    assert "service" not in doc


def test_what_a_rolled_back_transaction_counted_is_never_recorded() -> None:
    recorder = metrics.Recorder()
    lines: list[str] = []
    recorder.sink = lines.append
    saved = metrics.recorder
    metrics.recorder = recorder
    try:
        with metrics.transaction() as tx:
            metrics.count(metrics.Metric.EVENTS_STORED, 5)
            tx.discard()
        try:
            with metrics.transaction():
                metrics.count(metrics.Metric.EVENTS_STORED, 7)
                raise RuntimeError("deadlock")
        except RuntimeError:
            pass
        with metrics.transaction():
            metrics.count(metrics.Metric.EVENTS_STORED, 2)
            metrics.observe(metrics.Metric.ATTRIBUTION_LAG, 120.5)
        assert recorder.flush(stage="test") == 1
    finally:
        metrics.recorder = saved
    (doc,) = [json.loads(line) for line in lines]
    assert (doc["EventsStored"], doc["AttributionLag"]) == ([2], [120.5])


def test_the_inlined_module_count_records_what_recorder_count_records() -> None:
    """``metrics.count`` is ``Recorder.count`` inlined for the hot paths: same keys, same sums, zero ignored,
    held back inside a transaction, and no increment lost between threads."""
    calls = [
        (metrics.Metric.EVENTS_ACCEPTED, 1, ()),
        (metrics.Metric.EVENTS_REJECTED, 0, (("reason", "validation"),)),
        (metrics.Metric.EVENTS_REJECTED, 2, (("reason", "queue"),)),
        (metrics.Metric.EVENTS_ACCEPTED, 3, ()),
    ]
    reference, inlined = metrics.Recorder(), metrics.Recorder()
    saved = metrics.recorder
    token = metrics._function.set("events")
    try:
        for metric, value, dims in calls:
            if value:
                reference.count(metric, value, dims)
        metrics.recorder = inlined
        for metric, value, dims in calls:
            metrics.count(metric, value, dims)
        with metrics.transaction():
            metrics.count(metrics.Metric.EVENTS_ACCEPTED, 5)
            assert inlined._counts[("events", metrics.Metric.EVENTS_ACCEPTED, ())] == 4  # not yet
        reference.count(metrics.Metric.EVENTS_ACCEPTED, 5)
        assert inlined._counts == reference._counts
        assert inlined._counts == {
            ("events", metrics.Metric.EVENTS_ACCEPTED, ()): 9,
            ("events", metrics.Metric.EVENTS_REJECTED, (("reason", "queue"),)): 2,
        }

        def hammer() -> None:
            for _ in range(20000):
                metrics.count(metrics.Metric.REDIRECTS)

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert inlined._counts[("unknown", metrics.Metric.REDIRECTS, ())] == 80000  # new threads: no function set
    finally:
        metrics.recorder = saved
        metrics._function.reset(token)


def test_a_bound_counter_records_what_count_records_for_its_function() -> None:
    reference, bound = metrics.Recorder(), metrics.Recorder()
    saved = metrics.recorder
    token = metrics._function.set("redirect")
    try:
        metrics.recorder = reference
        for _ in range(3):
            metrics.count(metrics.Metric.REDIRECTS)
        metrics.count(metrics.Metric.EVENTS_REJECTED, 2, (("reason", "queue"),))
        metrics.recorder = bound
        redirects = metrics.Counter("redirect", metrics.Metric.REDIRECTS)
        rejected = metrics.Counter("redirect", metrics.Metric.EVENTS_REJECTED, (("reason", "queue"),))
        for _ in range(3):
            redirects.add()
        rejected.add(2)
        assert bound._counts == reference._counts
        assert bound._counts[("redirect", metrics.Metric.REDIRECTS, ())] == 3
    finally:
        metrics.recorder = saved
        metrics._function.reset(token)
