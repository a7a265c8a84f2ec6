"""The scheduled refresh: every stale (account, local day) rebuilt, whatever the consumer left."""

from __future__ import annotations

from typing import Any

from multibuzz.bootstrap import Container
from multibuzz.jobs.registry import job
from multibuzz.reports.maintain import refresh


@job("multibuzz.reports_refresh")
def refresh_reports(container: Container, detail: dict[str, Any]) -> dict[str, Any]:
    return {"days_rebuilt": refresh(container.session_factory, container.clock.now())}
