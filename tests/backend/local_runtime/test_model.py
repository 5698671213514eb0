"""What ``LocalRuntime.apply`` decides before it touches a process: whether the deployment is the same but for
its workloads (then it changes them in place), and which workloads go, restart and are new."""

from __future__ import annotations

import pytest

from backend.local_runtime.model import RuntimeSpec, VirtualNode, WorkloadDiff, same_deployment
from common.topology import LinkModel
from common.workload import Workload

pytestmark = pytest.mark.unit

NODES = {"cloud": VirtualNode(role="cloud"), "edge1": VirtualNode(role="edge")}


def spec(*workloads: Workload, token: str | None = "t", links: list[LinkModel] | None = None) -> RuntimeSpec:
    return RuntimeSpec(nodes=NODES, links=links or [], workloads=list(workloads), token=token)


def monitor(node: str, **config: object) -> Workload:
    return Workload(name=f"monitor-{node}", component="monitor", node=node, config=dict(config))


def test_only_the_workloads_may_differ_for_an_apply_in_place() -> None:
    current = spec(monitor("cloud"))
    assert same_deployment(current, spec(monitor("cloud"), monitor("edge1")))
    assert not same_deployment(current, spec(monitor("cloud"), token="other"))
    assert not same_deployment(current, spec(monitor("cloud"), links=[LinkModel(a="cloud", b="edge1")]))
    bigger = current.model_copy(update={"nodes": {**NODES, "edge2": VirtualNode(role="edge")}})
    assert not same_deployment(current, bigger)


def test_the_diff_names_what_goes_restarts_and_is_new() -> None:
    current = spec(monitor("cloud"), monitor("edge1"), Workload(name="dist", component="distributor", node="cloud"))
    wanted = spec(
        monitor("cloud", interval=2),  # changed: restarts
        Workload(name="dist", component="distributor", node="cloud"),  # same but not running: restarts
        Workload(name="sched", component="scheduler", node="cloud"),  # new
    )
    diff = WorkloadDiff.of(current, wanted, alive={"monitor-cloud", "monitor-edge1"})
    assert diff.gone == ["monitor-edge1"]
    assert diff.changed == ["monitor-cloud", "dist"]
    assert diff.added == ["sched"]
    assert diff.fresh == {"monitor-cloud", "dist", "sched"}
    assert WorkloadDiff.of(current, current, alive={"monitor-cloud", "monitor-edge1", "dist"}).fresh == set()
