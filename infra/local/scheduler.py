"""Fire EventBridge-shaped events at the rates the topology (and so the CDK app) declares."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from multibuzz import topology
from multibuzz.observability import get_logger
from multibuzz.telemetry import metrics

from infra.local.dispatch import load_handler
from infra.local.lambda_context import LocalLambdaContext

logger = get_logger("scheduler")


def eventbridge_event(schedule: topology.ScheduleSpec, region: str = "us-east-1") -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": schedule.detail_type,
        "source": "aws.events",
        "account": "000000000000",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:000000000000:rule/multibuzz-local-{schedule.name}"],
        "detail": {},
    }


def fire(function: str, schedule: topology.ScheduleSpec) -> Any:
    handler = load_handler(function)
    return handler(eventbridge_event(schedule), LocalLambdaContext(function))


class SchedulerThread(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="scheduler", daemon=True)
        self.stop_event = threading.Event()
        start = time.monotonic()
        self.plan = [
            (fn.name, schedule, topology.rate_seconds(schedule.expression))
            for fn in topology.FUNCTIONS
            for schedule in fn.schedules
        ]
        self.next_run = {schedule.name: start + interval for _, schedule, interval in self.plan}

    def run(self) -> None:
        while not self.stop_event.is_set():
            now = time.monotonic()
            for function, schedule, interval in self.plan:
                if now >= self.next_run[schedule.name]:
                    self.next_run[schedule.name] = now + interval
                    try:
                        fire(function, schedule)
                    except Exception:
                        logger.exception("scheduled job failed", extra={"schedule": schedule.name})
            # Locally the HTTP functions' counters also reach the log when requests stop (on AWS a Lambda
            # environment only runs during an invocation, which flushes when due).
            metrics.recorder.flush_due()
            self.stop_event.wait(1.0)

    def stop(self) -> None:
        self.stop_event.set()
