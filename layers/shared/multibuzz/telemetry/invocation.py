"""The frame every Lambda handler runs in: its function name, the correlation id, cold starts, the flush.

    token = begin("events", correlation.from_http_event(event))
    try: ... finally: end(token)                     # HTTP: flush when due
    with invocation("attribution", None, flush=True):   # consumers and jobs: flush per batch / run

``begin``/``end`` cost a few context-variable writes and a clock read per request (the ingestion and
redirect paths use them directly, without a generator-based context manager); nothing is serialised
unless a flush is due.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import Token

from multibuzz.telemetry import correlation, metrics, tracing

_started: set[str] = set()


_monotonic = metrics._monotonic
_set_function = metrics._function.set
_set_correlation = correlation._current.set
_reset_correlation = correlation._current.reset


def begin(function: str, correlation_id: str | None) -> Token[str | None]:
    """``correlation_id`` as ``correlation.from_http_event`` returns it (already bounded) or None."""
    _set_function(function)
    if function not in _started:  # the first invocation of this function in this process
        _started.add(function)
        metrics.count(metrics.Metric.COLD_STARTS)
    return _set_correlation(correlation_id)


def end(token: Token[str | None], flush: bool = False) -> None:
    _reset_correlation(token)
    if flush:
        metrics.flush()
        return
    recorder = metrics.recorder
    interval = recorder.flush_seconds
    if interval is None or _monotonic() - recorder._last_flush >= interval:  # Recorder.flush_due, inlined
        recorder.flush_due()


@contextmanager
def invocation(function: str, correlation_id: str | None, *, flush: bool = False, trace: bool = True) -> Iterator[None]:
    token = begin(function, correlation_id)
    try:
        if trace and tracing.tracer() is not None:
            with tracing.traced(function):
                yield
        else:
            yield
    finally:
        end(token, flush)


def reset_cold_starts() -> None:
    """Forget which functions have started (tests)."""
    _started.clear()
