"""How dayuctl shows a DAG in a table: its edges by stage and service, sentinels left out."""

from __future__ import annotations

import pytest

from backend.cli_commands import describe_edges
from backend.contracts.catalog import DagNode
from common.dag import DagSpec, ServiceType, StageSpec, build_dag

pytestmark = pytest.mark.unit
CATALOG = {"a": ServiceType(input="frame", output="frame"), "b": ServiceType(input="frame", output="frame")}


def shown(spec: DagSpec) -> str:
    dag = build_dag(spec, CATALOG)
    return describe_edges({name: DagNode(service=stage.service, next=stage.next) for name, stage in dag.items()})


def test_a_single_stage_and_a_diamond() -> None:
    assert shown(DagSpec(stages=[StageSpec(name="x", service="a")])) == "x(a)"
    diamond = DagSpec(
        stages=[
            StageSpec(name="top", service="a", next=["left", "right"]),
            StageSpec(name="left", service="b", next=["join"]),
            StageSpec(name="right", service="b", next=["join"]),
            StageSpec(name="join", service="a"),
        ]
    )
    assert shown(diamond) == "top(a) -> left(b), top(a) -> right(b), left(b) -> join(a), right(b) -> join(a)"
