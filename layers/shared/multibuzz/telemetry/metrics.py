"""Business and latency metrics, as CloudWatch embedded metric format (EMF) lines: no API call, no agent.

The catalogue below is the whole list of names (namespace ``Multibuzz``); adding a metric is one line in
``Metric`` (plus its unit in ``UNITS`` when it is not a count) and one ``count(...)``/``observe(...)`` where
it happens. Every metric carries the dimensions ``function`` and ``stage`` — never an account id or any
other unbounded value; a few carry one bounded extra dimension (``reason`` of a rejected event,
``sync_type``, ``queue``).

Recording is a dictionary update under a lock (the hot paths pay nothing else). ``flush()`` turns what was
recorded into one EMF document per (function, dimensions) with Powertools' EMF provider (imported on the
first flush, never at import time) and prints it: consumers and jobs flush per batch / per run, the HTTP
functions at the end of an invocation once ``metrics_flush_seconds`` have passed since the last flush
(``invocation.py``), so a request never pays a serialisation. Every flushed value is also added to a
process-wide ``summary()``, which ``GET /api/v1/admin/metrics`` shows (locally: the whole stack's figures).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

_monotonic = time.monotonic
NAMESPACE = "Multibuzz"
MAX_VALUES_PER_DOCUMENT = 100  # EMF: at most 100 values of one metric in one document


class Metric(StrEnum):
    # ingestion (functions/events)
    EVENTS_ACCEPTED = "EventsAccepted"
    EVENTS_REJECTED = "EventsRejected"  # dimension reason: validation | queue
    CONVERSIONS_ACCEPTED = "ConversionsAccepted"
    # consumer (functions/attribution)
    SESSIONS_STARTED = "SessionsStarted"
    EVENTS_STORED = "EventsStored"
    CONVERSIONS_ATTRIBUTED = "ConversionsAttributed"
    CONVERSIONS_FAILED = "ConversionsFailed"
    ATTRIBUTION_LAG = "AttributionLag"  # conversion received -> attributed, ms
    CLICKS_RECORDED = "ClicksRecorded"
    BATCH_SIZE = "BatchSize"  # records per SQS batch; dimension queue
    BATCH_PARTIAL_FAILURES = "BatchPartialFailures"  # records reported failed; dimension queue
    # redirect (functions/redirect)
    REDIRECTS = "Redirects"
    REDIRECT_CACHE_HITS = "RedirectCacheHits"
    REDIRECT_CACHE_MISSES = "RedirectCacheMisses"
    CLICKS_SPOOLED = "ClicksSpooled"
    # every function
    COLD_STARTS = "ColdStarts"
    # jobs (functions/sync): the watchdog
    SILENT_ACCOUNTS = "SilentAccounts"  # accounts that normally send events and sent none in the last hour
    # emitted by the Shopify/Meta and exports features (#11/#12) when they land
    WEBHOOKS_RECEIVED = "WebhooksReceived"
    WEBHOOKS_REJECTED = "WebhooksRejected"
    SYNC_ROWS = "SyncRows"  # dimension sync_type
    SYNC_DURATION = "SyncDuration"  # ms; dimension sync_type
    SYNC_AGE = "SyncAge"  # seconds since the last successful sync; dimension sync_type
    EXPORT_ROWS = "ExportRows"
    EXPORT_DURATION = "ExportDuration"  # ms


UNITS: dict[Metric, str] = {
    Metric.ATTRIBUTION_LAG: "Milliseconds",
    Metric.SYNC_DURATION: "Milliseconds",
    Metric.EXPORT_DURATION: "Milliseconds",
    Metric.SYNC_AGE: "Seconds",
}


def unit_of(metric: Metric) -> str:
    return UNITS.get(metric, "Count")


Dimensions = tuple[tuple[str, str], ...]
_Key = tuple[str, Metric, Dimensions]

_function: ContextVar[str] = ContextVar("multibuzz_metrics_function", default="unknown")
# Inside a database transaction: what it counted, applied only if it commits (a rolled-back batch retried
# record by record must not count its events twice).
_pending: ContextVar[list[tuple[bool, Metric, float, Dimensions]] | None] = ContextVar(
    "multibuzz_metrics_pending", default=None
)


def set_function(name: str) -> None:
    _function.set(name)


def current_function() -> str:
    return _function.get()


@dataclass
class _Stats:
    unit: str
    samples: int = 0  # how many data points (counts: increments; observations: values)
    total: float = 0.0
    minimum: float | None = None
    maximum: float | None = None
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=1000))

    def add(self, value: float, samples: int = 1) -> None:
        self.samples += samples
        self.total += value
        self.minimum = value if self.minimum is None else min(self.minimum, value)
        self.maximum = value if self.maximum is None else max(self.maximum, value)


class Recorder:
    """What has been recorded since the last flush, and the process-wide summary of what was flushed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[_Key, float] = {}
        self._values: dict[_Key, list[float]] = {}
        self._summary: dict[_Key, _Stats] = {}
        self._last_flush = time.monotonic()
        self.flush_seconds: float | None = None  # settings.metrics_flush_seconds, read on the first check
        self.sink: Callable[[str], None] = _print
        self.started = time.time()

    # -- recording (the hot paths) -------------------------------------------------------------
    def count(self, metric: Metric, value: float = 1, dimensions: Dimensions = ()) -> None:
        pending = _pending.get()
        if pending is not None:
            pending.append((False, metric, value, dimensions))
            return
        key = (_function.get(), metric, dimensions)
        with self._lock:  # (the dict is read inside: flush swaps it)
            counts = self._counts
            counts[key] = counts.get(key, 0) + value

    def observe(self, metric: Metric, value: float, dimensions: Dimensions = ()) -> None:
        pending = _pending.get()
        if pending is not None:
            pending.append((True, metric, value, dimensions))
            return
        key = (_function.get(), metric, dimensions)
        with self._lock:
            self._values.setdefault(key, []).append(value)

    # -- flushing ----------------------------------------------------------------------------------
    def flush_due(self) -> None:
        """Flush when ``flush_seconds`` have passed since the last flush (the HTTP functions' policy)."""
        interval = self.flush_seconds
        if interval is None:
            interval = self.flush_seconds = _settings_flush_seconds()
        if _monotonic() - self._last_flush >= interval:
            self.flush()

    def flush(self, *, stage: str | None = None) -> int:
        """Print what was recorded as EMF documents; returns how many were printed."""
        with self._lock:
            counts, self._counts = self._counts, {}
            values, self._values = self._values, {}
            self._last_flush = time.monotonic()
        if not counts and not values:
            return 0
        groups: dict[tuple[str, Dimensions], list[tuple[Metric, float | list[float]]]] = {}
        for (function, metric, dims), total in counts.items():
            groups.setdefault((function, dims), []).append((metric, total))
        for (function, metric, dims), observed in values.items():
            for start in range(0, len(observed), MAX_VALUES_PER_DOCUMENT):
                groups.setdefault((function, dims), []).append((metric, observed[start : start + 100]))
        stage = stage or _stage()
        documents = [emf_document(function, dims, items, stage=stage) for (function, dims), items in groups.items()]
        with self._lock:
            for (function, metric, dims), total in counts.items():
                self._stats((function, metric, dims)).add(total)
            for (function, metric, dims), observed in values.items():
                stats = self._stats((function, metric, dims))
                for value in observed:
                    stats.add(value)
                    stats.recent.append(value)
        for document in documents:
            self.sink(document)
        return len(documents)

    def _stats(self, key: _Key) -> _Stats:
        stats = self._summary.get(key)
        if stats is None:
            stats = self._summary[key] = _Stats(unit_of(key[1]))
        return stats

    # -- the local summary -----------------------------------------------------------------------
    def summary(self) -> list[dict[str, Any]]:
        with self._lock:
            items = [(key, stats, sorted(stats.recent)) for key, stats in self._summary.items()]
        out = []
        for (function, metric, dims), stats, recent in sorted(items, key=lambda item: (item[0][0], item[0][1])):
            row: dict[str, Any] = {
                "function": function,
                "metric": str(metric),
                "dimensions": dict(dims),
                "unit": stats.unit,
                "sum": stats.total,
            }
            if recent:  # an observed (latency-like) metric: its distribution
                row |= {
                    "samples": stats.samples,
                    "min": stats.minimum,
                    "max": stats.maximum,
                    "p50": _percentile(recent, 0.50),
                    "p99": _percentile(recent, 0.99),
                }
            out.append(row)
        return out

    def reset(self) -> None:
        """Forget everything (tests)."""
        with self._lock:
            self._counts, self._values, self._summary = {}, {}, {}
            self._last_flush = time.monotonic()


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _print(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _stage() -> str:
    """The stage of the process's container (its settings, validated at cold start)."""
    from multibuzz.bootstrap import get_container

    return str(get_container().settings.stage)


def _settings_flush_seconds() -> float:
    from multibuzz.bootstrap import get_container

    return float(get_container().settings.metrics_flush_seconds)


def emf_document(
    function: str, dims: Dimensions, items: Iterable[tuple[Metric, float | list[float]]], *, stage: str
) -> str:
    """One EMF line, serialised by Powertools' CloudWatch EMF provider (the provider behind ``Metrics``)."""
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    provider = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service="")  # no implicit "service" dimension
    provider.add_dimension("function", function)
    provider.add_dimension("stage", stage)
    for name, dimension in dims:
        provider.add_dimension(name, dimension)
    for metric, value in items:
        for one in value if isinstance(value, list) else [value]:
            provider.add_metric(name=str(metric), unit=unit_of(metric), value=one)
    return json.dumps(provider.serialize_metric_set(), separators=(",", ":"))


recorder = Recorder()
_pending_get = _pending.get
_function_get = _function.get


class Transaction:
    """``with metrics.transaction() as tx:`` — what is counted inside is kept back and recorded when the
    block ends, unless it raised or ``tx.discard()`` was called (the database transaction rolled back)."""

    def __init__(self) -> None:
        self.items: list[tuple[bool, Metric, float, Dimensions]] = []
        self._token: Any = None
        self._discarded = False

    def discard(self) -> None:
        self._discarded = True

    def __enter__(self) -> Transaction:
        self._token = _pending.set(self.items)
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        _pending.reset(self._token)
        if exc_type is None and not self._discarded:
            for observed, metric, value, dims in self.items:
                if observed:
                    recorder.observe(metric, value, dims)
                else:
                    recorder.count(metric, value, dims)


def transaction() -> Transaction:
    return Transaction()


def count(metric: Metric, value: float = 1, dimensions: Dimensions = ()) -> None:
    """Add ``value`` to a counter (a no-op for 0). ``Recorder.count`` inlined: this is the hot paths' call
    (a tested equivalent: tests/unit/test_telemetry.py)."""
    if value:
        pending = _pending_get()
        if pending is not None:
            pending.append((False, metric, value, dimensions))
            return
        key = (_function_get(), metric, dimensions)
        rec = recorder
        with rec._lock:
            counts = rec._counts
            counts[key] = counts.get(key, 0) + value


class Counter:
    """A counter of one function's hot path, its key made once: ``REDIRECTS = Counter("redirect", Metric.REDIRECTS)``
    then ``REDIRECTS.add()`` per request — no context-variable reads, which ``count`` needs to find the function
    and an open ``transaction()``. Only for HTTP paths that never run inside ``metrics.transaction()`` (the
    redirect); what it records is what ``count`` records there (tests/unit/test_telemetry.py)."""

    __slots__ = ("key",)

    def __init__(self, function: str, metric: Metric, dimensions: Dimensions = ()) -> None:
        self.key = (function, metric, dimensions)

    def add(self, value: float = 1) -> None:
        rec = recorder
        with rec._lock:
            counts = rec._counts
            counts[self.key] = counts.get(self.key, 0) + value


def observe(metric: Metric, value: float, dimensions: Dimensions = ()) -> None:
    """Record one data point of a distribution (latencies, batch sizes): CloudWatch keeps p50/p99."""
    recorder.observe(metric, value, dimensions)


def flush() -> int:
    return recorder.flush()


def summary() -> list[dict[str, Any]]:
    return recorder.summary()
