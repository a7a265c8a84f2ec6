"""Local/AWS parity: what the local runner wires and what the template deploys are the same, both ways."""

from __future__ import annotations

from typing import Any

from multibuzz import topology

from infra.local.gateway import LocalGateway
from infra.local.scheduler import SchedulerThread
from tests.infra import cfn


def local_routes() -> set[tuple[str, str]]:
    return {(route.key, route.function) for route in LocalGateway().router.routes}


def local_consumers() -> set[tuple[str, str, int, int]]:
    # infra.local.runtime.LocalRuntime starts one consumer thread per (function, ConsumerSpec) of the topology.
    return {
        (fn.name, c.queue, c.batch_size, c.max_batching_window_seconds)
        for fn in topology.FUNCTIONS
        for c in fn.consumes
    }


def local_schedules() -> set[tuple[str, str, str]]:
    return {(function, schedule.detail_type, schedule.expression) for function, schedule, _ in SchedulerThread().plan}


def _diff(local: set[Any], deployed: set[Any]) -> str:
    return f"only local: {sorted(local - deployed)}; only in template: {sorted(deployed - local)}"


def test_every_local_route_is_deployed_and_nothing_else(template: dict[str, Any]) -> None:
    local, deployed = local_routes(), cfn.route_table(template)
    assert local, "the local gateway wires no routes"
    assert local == deployed, _diff(local, deployed)


def test_route_keys_are_unique_in_the_template(template: dict[str, Any]) -> None:
    keys = [cfn.props(r)["RouteKey"] for r in cfn.resources(template, "AWS::ApiGatewayV2::Route").values()]
    assert len(keys) == len(set(keys)) == len(topology.all_routes())


def test_every_local_consumer_is_deployed_and_nothing_else(template: dict[str, Any]) -> None:
    local, deployed = local_consumers(), cfn.consumer_table(template)
    assert local, "the topology declares no consumers"
    assert local == deployed, _diff(local, deployed)


def test_every_local_schedule_is_deployed_and_nothing_else(template: dict[str, Any]) -> None:
    local, deployed = local_schedules(), cfn.schedule_table(template)
    assert local, "the local scheduler plans nothing"
    assert local == deployed, _diff(local, deployed)


def test_every_topology_function_and_queue_is_deployed(template: dict[str, Any]) -> None:
    deployed_functions = set(cfn.function_names(template).values())
    assert {fn.name for fn in topology.FUNCTIONS} | {"migrator"} == deployed_functions
    assert sorted(cfn.queue_names(template).values()) == sorted(q.name for q in topology.QUEUES)
    assert sorted(cfn.dlq_names(template).values()) == sorted(q.name for q in topology.QUEUES)
