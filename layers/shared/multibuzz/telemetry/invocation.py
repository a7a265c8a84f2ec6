"""The frame every Lambda handler runs in: its function name, the correlation id, cold starts, the flush.

    with invocation("attribution", correlation_id=None, flush=True):   # consumers and jobs: per batch
    with invocation("events", correlation.from_http_event(event)):      # HTTP: flush when due

Costs a few context-variable writes per call; nothing is serialised unless a flush is due.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from multibuzz.telemetry import correlation, metrics, tracing

_started: set[str] = set()


def _begin(function: str, correlation_id: str | None) -> object:
    metrics.set_function(function)
    if function not in _started:  # the first invocation of this function in this process
        _started.add(function)
        metrics.count(metrics.Metric.COLD_STARTS)
    return correlation.set_current(correlation_id)


def _end(token: object, flush: bool) -> None:
    correlation.reset(token)  # type: ignore[arg-type]
    if flush:
        metrics.flush()
    else:
        metrics.recorder.flush_due()


@contextmanager
def invocation(function: str, correlation_id: str | None, *, flush: bool = False, trace: bool = True) -> Iterator[None]:
    token = _begin(function, correlation_id)
    try:
        if trace:
            with tracing.traced(function):
                yield
        else:
            yield
    finally:
        _end(token, flush)


def reset_cold_starts() -> None:
    """Forget which functions have started (tests)."""
    _started.clear()
