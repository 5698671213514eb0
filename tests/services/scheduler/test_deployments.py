"""Initial deployment (``random``) and redeployment hooks (``none``, ``fixed``, ``dynamic``, ``profiling``)."""

from __future__ import annotations

import time

import pytest

from common.metrics import ServiceMetrics
from common.plan import PlanRequest, ResourceReport
from common.registry import REGISTRY
from services.scheduler.config import SchedulerConfig
from services.scheduler.core import Scheduler
from services.scheduler.placement import DEPLOYMENT, REDEPLOYMENT, ClusterView
from tests import loopback
from tests.services.scheduler.test_app import plan_of, plan_request, start, topology

NODES = ["cloud", "edge1", "edge2", "edge3"]


def report(node: str, cpu: float, memory: float | None = None) -> ResourceReport:
    return ResourceReport(node=node, at=time.time(), cpu=cpu, memory=cpu if memory is None else memory)


def view(resources: dict[str, ResourceReport], service_ms: dict[str, float] | None = None) -> ClusterView:
    return ClusterView(
        services=["a", "b", "c"], nodes=NODES, cloud="cloud", resources=resources, service_ms=service_ms or {}
    )


@pytest.mark.unit
def test_random_deployment_always_keeps_the_cloud_and_is_seeded() -> None:
    one = REGISTRY.create(DEPLOYMENT, "random", {"per_service": 2, "seed": 4}).deploy(["a", "b"], NODES)
    two = REGISTRY.create(DEPLOYMENT, "random", {"per_service": 2, "seed": 4}).deploy(["a", "b"], NODES)
    assert one == two and all("cloud" in nodes and len(nodes) == 2 for nodes in one.values())


@pytest.mark.unit
def test_none_and_fixed_redeployment() -> None:
    current = {"a": ["cloud", "edge1"], "b": ["cloud"], "c": ["edge2"]}
    assert REGISTRY.create(REDEPLOYMENT, "none", {}).redeploy(current, view({})) == current
    fixed = REGISTRY.create(REDEPLOYMENT, "fixed", {"placement": {"b": ["edge3", "edge9"]}})
    assert fixed.redeploy(current, view({})) == {"a": ["cloud", "edge1"], "b": ["edge3"], "c": ["edge2"]}


@pytest.mark.unit
def test_dynamic_redeployment_leaves_overloaded_nodes_and_keeps_the_cloud() -> None:
    current = {s: list(NODES) for s in "abc"}
    busy = {"edge1": report("edge1", 0.95), "edge2": report("edge2", 0.2), "cloud": report("cloud", 0.99)}
    out = REGISTRY.create(REDEPLOYMENT, "dynamic", {"max_load": 0.8}).redeploy(current, view(busy))
    # edge1 overloaded: out; edge2 has room: in; edge3 unreported: keeps what it ran; cloud always
    assert out == {s: ["cloud", "edge2", "edge3"] for s in "abc"}


@pytest.mark.unit
def test_profiling_redeployment_puts_costly_services_on_strong_nodes_within_slots() -> None:
    resources = {"edge1": report("edge1", 0.9), "edge2": report("edge2", 0.1), "edge3": report("edge3", 0.5)}
    out = REGISTRY.create(REDEPLOYMENT, "profiling", {"slots": 1}).redeploy(
        {}, view(resources, {"a": 5.0, "b": 80.0, "c": 20.0})
    )
    assert out == {"b": ["cloud", "edge2"], "c": ["cloud", "edge3"], "a": ["cloud", "edge1"]}


@pytest.mark.unit
def test_redeployment_waits_for_its_interval_on_the_schedulers_clock() -> None:
    """A clock moved by hand: not a moment before ``redeploy_interval_s``, then once per interval."""
    now = [100.0]
    config = SchedulerConfig.model_validate(
        {"redeployment": {"alias": "dynamic", "params": {"max_load": 0.5}}, "redeploy_interval_s": 10.0}
    )
    scheduler = Scheduler(config, topology(), ServiceMetrics("test"), clock=lambda: now[0])
    request = PlanRequest.model_validate(plan_request())
    first = scheduler.plan(request)
    assert "edge1" in first.deployment["detect"]
    scheduler.resources["edge1"] = report("edge1", 0.9)
    now[0] += 9.99
    assert scheduler.plan(request).deployment_version == first.deployment_version  # not yet
    now[0] += 0.01
    moved = scheduler.plan(request)
    assert moved.deployment_version == first.deployment_version + 1
    assert "edge1" not in moved.deployment["detect"] and "cloud" in moved.deployment["detect"]
    scheduler.resources["edge1"] = report("edge1", 0.1)
    now[0] += 5.0
    assert scheduler.plan(request).deployment_version == moved.deployment_version  # the next interval starts
    now[0] += 5.0  # at the redeployment, not at the last plan
    assert "edge1" in scheduler.plan(request).deployment["detect"]


@pytest.mark.integration
def test_the_scheduler_redeploys_every_interval_and_bumps_the_version() -> None:
    config = {"redeployment": {"alias": "dynamic", "params": {"max_load": 0.5}}, "redeploy_interval_s": 0.2}
    with start(config) as url:
        first = plan_of(url, plan_request())
        loopback.post(f"{url}/resources", json=report("edge1", 0.9).model_dump(mode="json")).raise_for_status()
        time.sleep(0.3)
        second = plan_of(url, plan_request())
    assert "edge1" in first["deployment"]["detect"]
    assert "edge1" not in second["deployment"]["detect"] and "cloud" in second["deployment"]["detect"]
    assert second["deployment_version"] == first["deployment_version"] + 1
