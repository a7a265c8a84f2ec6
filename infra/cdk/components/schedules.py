"""EventBridge rules for every ``topology`` schedule, sending the event shape the local scheduler sends."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from multibuzz import topology

from infra.cdk.components.common import camel

EVENT_SOURCE = "multibuzz.scheduler"


def schedule_input(schedule: topology.ScheduleSpec) -> dict[str, Any]:
    """A scheduled rule's own event says ``"detail-type": "Scheduled Event"``; the sync function dispatches
    on detail-type, so the target input carries the topology's detail-type (as infra/local/scheduler.py does)."""
    return {
        "version": "0",
        "source": EVENT_SOURCE,
        "detail-type": schedule.detail_type,
        "resources": [],
        "detail": {},
    }


class Schedules(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, functions: dict[str, lambda_.IFunction]) -> None:
        super().__init__(scope, construct_id)
        self.rules: dict[str, events.Rule] = {}
        for spec in topology.FUNCTIONS:
            for schedule in spec.schedules:
                topology.rate_seconds(schedule.expression)  # refuses anything but rate(...) at synth time
                self.rules[schedule.name] = events.Rule(
                    self,
                    camel(schedule.name),
                    description=schedule.description,
                    schedule=events.Schedule.expression(schedule.expression),
                    targets=[
                        targets.LambdaFunction(
                            functions[spec.name],
                            event=events.RuleTargetInput.from_object(schedule_input(schedule)),
                            # Jobs are idempotent; a couple of retries ride out a database scale-up.
                            retry_attempts=2,
                            max_event_age=Duration.hours(1),
                        )
                    ],
                )
