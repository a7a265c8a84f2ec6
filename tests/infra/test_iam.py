"""IAM scoping: each function can do what its topology spec declares, and nothing more."""

from __future__ import annotations

from typing import Any

import pytest
from multibuzz import topology

from infra.cdk.components.runtime import VPC_ACCESS_ACTIONS, XRAY_ACTIONS
from tests.infra import cfn


def _role_of(template: dict[str, Any], function: str) -> str:
    fn = template["Resources"][cfn.function_logical_id(template, function)]
    return cfn.ref_target(cfn.props(fn)["Role"])


def _resources_allowing(statements: list[dict[str, Any]], action: str) -> list[Any]:
    found: list[Any] = []
    for statement in statements:
        if statement.get("Effect") == "Allow" and action in cfn.as_list(statement["Action"]):
            found += cfn.as_list(statement["Resource"])
    return found


def _queue_targets(template: dict[str, Any], resources: list[Any]) -> set[str]:
    queues = {**cfn.queue_names(template), **{k: f"{v}-dlq" for k, v in cfn.dlq_names(template).items()}}
    return {queues[cfn.ref_target(r)] for r in resources if isinstance(r, dict)}


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.name)
def test_functions_publish_only_to_their_declared_queues(template: dict[str, Any], spec: topology.FunctionSpec) -> None:
    statements = cfn.policy_statements_for_role(template, _role_of(template, spec.name))
    allowed = _queue_targets(template, _resources_allowing(statements, "sqs:SendMessage"))
    redrives = {q.name for q in topology.QUEUES} if spec.operates_queues else set()  # back to their own queue
    assert allowed == set(spec.publishes) | redrives


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.name)
def test_functions_consume_only_their_declared_queues(template: dict[str, Any], spec: topology.FunctionSpec) -> None:
    statements = cfn.policy_statements_for_role(template, _role_of(template, spec.name))
    allowed = _queue_targets(template, _resources_allowing(statements, "sqs:ReceiveMessage"))
    dead_letters = {f"{q.name}-dlq" for q in topology.QUEUES} if spec.operates_queues else set()
    assert allowed == {c.queue for c in spec.consumes} | dead_letters


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.name)
def test_bucket_and_database_secret_access_follow_the_spec(
    template: dict[str, Any], spec: topology.FunctionSpec
) -> None:
    statements = cfn.policy_statements_for_role(template, _role_of(template, spec.name))
    assert bool(_resources_allowing(statements, "s3:PutObject")) == spec.uses_bucket
    assert bool(_resources_allowing(statements, "secretsmanager:GetSecretValue")) == spec.uses_database
    assert not _resources_allowing(statements, "s3:DeleteObject")


def test_no_function_role_has_wildcard_actions_or_managed_policies(template: dict[str, Any]) -> None:
    for function in [*(s.name for s in topology.FUNCTIONS), "migrator"]:
        role_id = _role_of(template, function)
        assert "ManagedPolicyArns" not in cfn.props(template["Resources"][role_id]), function
        for statement in cfn.policy_statements_for_role(template, role_id):
            actions = cfn.as_list(statement["Action"])
            assert all(a != "*" and not a.endswith(":*") for a in actions), (function, actions)
            if "*" in cfn.as_list(statement["Resource"]):
                assert set(actions) <= {*VPC_ACCESS_ACTIONS, *XRAY_ACTIONS}, (function, actions)


def test_logs_are_scoped_to_the_functions_own_log_group(template: dict[str, Any]) -> None:
    for spec in topology.FUNCTIONS:
        fn = template["Resources"][cfn.function_logical_id(template, spec.name)]
        own_group = cfn.ref_target(cfn.props(fn)["LoggingConfig"]["LogGroup"])
        statements = cfn.policy_statements_for_role(template, _role_of(template, spec.name))
        targets = _resources_allowing(statements, "logs:PutLogEvents")
        assert targets and all(cfn.ref_target(t) == own_group for t in targets), spec.name


def test_migrator_can_read_the_database_secret_but_not_queues_or_bucket(template: dict[str, Any]) -> None:
    statements = cfn.policy_statements_for_role(template, _role_of(template, "migrator"))
    assert _resources_allowing(statements, "secretsmanager:GetSecretValue")
    assert not _resources_allowing(statements, "sqs:SendMessage")
    assert not _resources_allowing(statements, "s3:PutObject")
