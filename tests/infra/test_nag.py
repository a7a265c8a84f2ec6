"""cdk-nag AwsSolutions: zero unacknowledged findings, and every acknowledgment carries a written reason."""

from __future__ import annotations

from typing import Any

from aws_cdk import App, Stack, Validations
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match
from cdk_nag import AwsSolutionsChecks

from infra.cdk.nag import REASONS
from tests.infra.conftest import Synthesized


def _violations(scope: Any) -> list[str]:
    report = AwsSolutionsChecks().validate_scope(scope)
    return [f"{v.rule_name}: {[r.construct_path for r in v.violating_resources]}" for v in report.violations]


def test_no_unacknowledged_aws_solutions_findings(synthesized: Synthesized, stage: str) -> None:
    assert _violations(synthesized.stacks[stage]) == []


def test_no_cdk_errors_or_warnings_annotated(synthesized: Synthesized, stage: str) -> None:
    annotations = Annotations.from_stack(synthesized.stacks[stage])
    assert annotations.find_error("*", Match.any_value()) == []
    assert annotations.find_warning("*", Match.any_value()) == []


def test_the_checks_do_catch_a_violation() -> None:
    # Guards against a silently disabled pack: an unencrypted, plain-HTTP queue without a DLQ must be reported.
    stack = Stack(App(), "Probe")
    sqs.Queue(stack, "Bare", encryption=sqs.QueueEncryption.UNENCRYPTED)
    rules = " ".join(_violations(stack))
    assert "AwsSolutions-SQS3" in rules and "AwsSolutions-SQS4" in rules


def _acknowledgments(scope: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for construct in scope.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for key, reason in dict(entry.data).items():
                    rule = key.split("::")[-1]
                    if "AwsSolutions" in key:  # CDK itself acknowledges a few of its own (e.g. cfn-lint W3010)
                        found[rule] = str(reason)
    return found


def test_every_acknowledgment_has_a_written_reason(synthesized: Synthesized) -> None:
    acknowledged = _acknowledgments(synthesized.app)
    assert acknowledged, "expected some acknowledged findings (IAM5 for VPC ENIs at least)"
    known_reasons = set(REASONS.values())
    for rule, reason in acknowledged.items():
        assert reason in known_reasons, rule
        assert len(reason.split()) >= 10, (rule, reason)
