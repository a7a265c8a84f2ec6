"""Read a synthesized CloudFormation template: resources by type, references, and our naming tags."""

from __future__ import annotations

import json
from typing import Any

from infra.cdk.components.queues import DLQ_TAG, QUEUE_TAG
from infra.cdk.components.runtime import FUNCTION_TAG

Template = dict[str, Any]


def resources(template: Template, type_: str) -> dict[str, dict[str, Any]]:
    return {key: res for key, res in template["Resources"].items() if res["Type"] == type_}


def props(resource: dict[str, Any]) -> dict[str, Any]:
    return dict(resource.get("Properties", {}))


def tag(resource: dict[str, Any], key: str) -> str | None:
    tags = props(resource).get("Tags", [])
    if isinstance(tags, dict):  # some resource types take a map
        return tags.get(key)
    return next((t["Value"] for t in tags if t["Key"] == key), None)


def ref_target(value: Any) -> str:
    """The logical id behind ``{"Ref": id}`` or ``{"Fn::GetAtt": [id, attr]}``."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    raise ValueError(f"not a reference: {json.dumps(value)}")


def function_names(template: Template) -> dict[str, str]:
    """logical id -> topology function name (migrator included), from the ``multibuzz:function`` tag."""
    return {
        key: name
        for key, res in resources(template, "AWS::Lambda::Function").items()
        if (name := tag(res, FUNCTION_TAG)) is not None
    }


def queue_names(template: Template) -> dict[str, str]:
    return {
        key: name
        for key, res in resources(template, "AWS::SQS::Queue").items()
        if (name := tag(res, QUEUE_TAG)) is not None
    }


def dlq_names(template: Template) -> dict[str, str]:
    return {
        key: name
        for key, res in resources(template, "AWS::SQS::Queue").items()
        if (name := tag(res, DLQ_TAG)) is not None
    }


def function_logical_id(template: Template, name: str) -> str:
    return next(key for key, fn in function_names(template).items() if fn == name)


def route_table(template: Template) -> set[tuple[str, str]]:
    """(route key, function name) for every API Gateway route."""
    functions = function_names(template)
    integrations = resources(template, "AWS::ApiGatewayV2::Integration")
    found = set()
    for route in resources(template, "AWS::ApiGatewayV2::Route").values():
        target = props(route)["Target"]["Fn::Join"][1]  # ["integrations/", {"Ref": integration}]
        integration = integrations[ref_target(target[1])]
        found.add((props(route)["RouteKey"], functions[ref_target(props(integration)["IntegrationUri"])]))
    return found


def consumer_table(template: Template) -> set[tuple[str, str, int, int]]:
    """(function, queue, batch size, batching window) for every SQS event source mapping."""
    functions = function_names(template)
    queues = queue_names(template)
    found = set()
    for mapping in resources(template, "AWS::Lambda::EventSourceMapping").values():
        p = props(mapping)
        found.add(
            (
                functions[ref_target(p["FunctionName"])],
                queues[ref_target(p["EventSourceArn"])],
                int(p["BatchSize"]),
                int(p.get("MaximumBatchingWindowInSeconds", 0)),
            )
        )
    return found


def schedule_table(template: Template) -> set[tuple[str, str, str]]:
    """(function, detail-type, rate expression) for every scheduled EventBridge rule."""
    functions = function_names(template)
    found = set()
    for rule in resources(template, "AWS::Events::Rule").values():
        p = props(rule)
        if "ScheduleExpression" not in p:
            continue
        for target in p["Targets"]:
            detail_type = json.loads(target["Input"])["detail-type"]
            found.add((functions[ref_target(target["Arn"])], detail_type, p["ScheduleExpression"]))
    return found


def policy_statements_for_role(template: Template, role_logical_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in props(policy).get("Roles", []):
            statements += props(policy)["PolicyDocument"]["Statement"]
    role = template["Resources"][role_logical_id]
    for inline in props(role).get("Policies", []):
        statements += inline["PolicyDocument"]["Statement"]
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
