"""Issue #16 in the CDK app: active tracing everywhere, the stage's operations dashboard, the business alarms."""

from __future__ import annotations

import json
from typing import Any

from multibuzz import topology

from infra.cdk.components.monitoring import ATTRIBUTION_LAG_P99_MS, DASHBOARD_WIDGETS, SYNC_MAX_AGE
from infra.cdk.components.runtime import XRAY_ACTIONS
from tests.infra import cfn


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        cfn.props(a).get("MetricName", ""): cfn.props(a)
        for a in cfn.resources(template, "AWS::CloudWatch::Alarm").values()
    }


def test_every_function_has_active_tracing_and_may_write_traces(template: dict[str, Any]) -> None:
    for function in [*(s.name for s in topology.FUNCTIONS), "migrator"]:
        fn_id = cfn.function_logical_id(template, function)
        props = cfn.props(template["Resources"][fn_id])
        assert props.get("TracingConfig") == {"Mode": "Active"}, function
        role_id = cfn.ref_target(props["Role"])
        granted = {a for s in cfn.policy_statements_for_role(template, role_id) for a in cfn.as_list(s["Action"])}
        assert set(XRAY_ACTIONS) <= granted, function


def test_the_stage_has_one_operations_dashboard_with_every_widget(template: dict[str, Any], stage: str) -> None:
    (dashboard,) = [cfn.props(d) for d in cfn.resources(template, "AWS::CloudWatch::Dashboard").values()]
    assert dashboard["DashboardName"] == f"multibuzz-{stage}-operations"
    body = dashboard["DashboardBody"]
    # The body is an Fn::Join of literal JSON around tokens (function names, queue names, the region).
    text = "".join(part if isinstance(part, str) else "TOKEN" for part in body["Fn::Join"][1])
    titles = [
        widget["properties"]["title"]
        for widget in json.loads(text.replace('"TOKEN"', '"x"').replace("TOKEN", "x"))["widgets"]
    ]
    assert titles == list(DASHBOARD_WIDGETS)
    for metric in (
        "EventsAccepted",
        "EventsRejected",
        "AttributionLag",
        "RedirectCacheHits",
        "SyncAge",
        "SilentAccounts",
    ):
        assert f'"Multibuzz","{metric}"' in text, metric
    assert '"stat":"p99"' in text and '"stat":"p50"' in text
    assert "100 * hits / (hits + misses)" in text
    assert "ApproximateAgeOfOldestMessage" in text and "ApproximateNumberOfMessagesVisible" in text


def test_business_alarms_watch_the_emf_metrics_of_this_stage(template: dict[str, Any], stage: str) -> None:
    alarms = [cfn.props(a) for a in cfn.resources(template, "AWS::CloudWatch::Alarm").values()]
    business = [a for a in alarms if a.get("Namespace") == "Multibuzz"]

    def dims(alarm: dict[str, Any]) -> dict[str, str]:
        return {d["Name"]: d["Value"] for d in alarm["Dimensions"]}

    lag = [a for a in business if a["MetricName"] == "AttributionLag"]
    assert len(lag) == 1 and lag[0]["ExtendedStatistic"] == "p99" and lag[0]["Threshold"] == ATTRIBUTION_LAG_P99_MS
    assert dims(lag[0]) == {"function": "attribution", "stage": stage}
    silent = [a for a in business if a["MetricName"] == "SilentAccounts"]
    assert len(silent) == 1 and silent[0]["Threshold"] == 1 and dims(silent[0]) == {"function": "sync", "stage": stage}
    stale = {dims(a)["sync_type"]: a["Threshold"] for a in business if a["MetricName"] == "SyncAge"}
    assert stale == {name: age.to_seconds() for name, age in SYNC_MAX_AGE.items()}
    assert all(a["AlarmActions"] and a["OKActions"] for a in business), "business alarms notify the topic"


def test_the_watchdog_runs_every_quarter_hour() -> None:
    (schedule,) = [s for s in topology.function("sync").schedules if s.detail_type == "multibuzz.watchdog"]
    assert topology.rate_seconds(schedule.expression) == 900
