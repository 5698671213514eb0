"""Scheduler integration tests: a real uvicorn server on loopback, real plan requests and reports."""

from __future__ import annotations

import time
from typing import Any

import pytest

from common.config import load_component_config
from common.dag import DagSpec, ServiceType, StageSpec, build_dag
from common.errors import ConfigError
from common.plan import PlanRequest, ResourceReport
from common.records import DropReason, DropRecord
from common.task import Task
from common.topology import StaticTopology, TopologyModel
from services.scheduler.app import create_app
from services.scheduler.config import SchedulerConfig
from services.scheduler.settings import SchedulerSettings
from tests import loopback
from tests.servers import serve

pytestmark = pytest.mark.integration

CATALOG = {
    "detect": ServiceType(input="frame", output="bbox"),
    "classify": ServiceType(input="bbox", output="text"),
}


def topology() -> StaticTopology:
    """cloud and edge1 run both services; edge2 runs only `detect`."""
    endpoint = {"port": 9000}
    return StaticTopology(
        TopologyModel.model_validate(
            {
                "nodes": {
                    "cloud": {"role": "cloud", "processors": {"detect": endpoint, "classify": endpoint}},
                    "edge1": {"role": "edge", "processors": {"detect": endpoint, "classify": endpoint}},
                    "edge2": {"role": "edge", "processors": {"detect": endpoint}},
                }
            }
        )
    )


def plan_request(source_node: str = "edge2", candidates: dict[str, list[str]] | None = None) -> dict[str, Any]:
    dag = build_dag(
        DagSpec(stages=[StageSpec(name="d", service="detect", next=["c"]), StageSpec(name="c", service="classify")]),
        CATALOG,
    )
    request = PlanRequest(
        source_id="cam1", source_node=source_node, dag=dag, candidates=candidates or {}, edge_nodes=["edge1", "edge2"]
    )
    return request.model_dump(mode="json")


def start(config: dict[str, Any]) -> Any:
    return serve(create_app(SchedulerSettings(), SchedulerConfig.model_validate(config), topology=topology()))


def plan_of(url: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = loopback.post(f"{url}/plan", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_cloud_only_offloads_every_stage_to_the_cloud() -> None:
    with start({"agent": {"alias": "cloud-only"}, "startup": {"meta": {"resolution": "480p", "fps": 10}}}) as url:
        plan = plan_of(url, plan_request())
        limited = plan_of(url, plan_request(candidates={"c": ["edge1"]}))
    assert plan["plan"]["offload"] == {"d": "cloud", "c": "cloud"}
    assert plan["plan"]["meta"]["resolution"] == "480p" and plan["plan"]["meta"]["fps"] == 10
    assert limited["plan"]["offload"] == {"d": "cloud", "c": "edge1"}  # candidates win over the policy


def test_edge_only_keeps_stages_at_the_edge() -> None:
    with start({"agent": {"alias": "edge-only"}}) as url:
        plan = plan_of(url, plan_request(source_node="edge2"))
        on_edge1 = plan_of(url, plan_request(source_node="edge1"))
    # edge2 runs no `classify` processor: that stage goes to the first edge candidate that does
    assert plan["plan"]["offload"] == {"d": "edge2", "c": "edge1"}
    assert on_edge1["plan"]["offload"] == {"d": "edge1", "c": "edge1"}


def test_fixed_follows_config_and_candidates() -> None:
    config = {
        "agent": {"alias": "fixed", "params": {"offload": {"d": "edge1"}, "meta": {"buffer_size": 8, "qp": 30}}},
        "startup": {"offload": {"c": "cloud"}},
    }
    with start(config) as url:
        plan = plan_of(url, plan_request())
        constrained = plan_of(url, plan_request(candidates={"d": ["edge2"]}))
        stats = loopback.get(f"{url}/stats").json()
        startup = loopback.get(f"{url}/plan/startup").json()
    assert plan["plan"]["offload"] == {"d": "edge1", "c": "cloud"}
    assert plan["plan"]["meta"]["buffer_size"] == 8 and plan["plan"]["meta"]["qp"] == 30
    assert plan["decision_ms"] >= 0
    assert plan["deployment"] == {"classify": ["cloud", "edge1", "edge2"], "detect": ["cloud", "edge1", "edge2"]}
    assert constrained["plan"]["offload"]["d"] == "edge2"
    assert startup["plan"]["offload"] == {"c": "cloud"}
    assert stats["plans_served"] == 2 and stats["agents"] == {"cam1": "fixed"}
    summary = stats["decision_ms"]
    assert summary["count"] == 2
    assert 0 <= summary["p50"] <= summary["p95"] <= summary["p99"] <= summary["max"]


def test_unknown_agent_alias_and_bad_params_are_refused_when_the_config_is_loaded() -> None:
    with pytest.raises(ConfigError) as caught:
        load_component_config('{"agent": {"alias": "nope"}}', SchedulerConfig)
    message = str(caught.value)
    assert message.startswith("$DAYU_CONFIG:1: agent.alias: unknown agent hook 'nope'")
    for alias in ("cloud-only", "edge-only", "fixed"):
        assert alias in message
    with pytest.raises(ConfigError, match=r"agent.params.offload: agent hook 'cloud-only'"):
        load_component_config('{"agent": {"alias": "cloud-only", "params": {"offload": {}}}}', SchedulerConfig)


def test_feedback_resources_selection_and_deployment() -> None:
    dag = build_dag(DagSpec(stages=[StageSpec(name="d", service="detect")]), CATALOG)
    task = Task(source_id="cam1", task_id=3, source_node="edge1", dag=dag)
    drop = DropRecord.of(task, DropReason.DECODE_ERROR, "bad segment")
    report = ResourceReport(node="edge1", at=time.time(), cpu=0.25, memory=0.5, queue_lengths={"detect": 2})
    config = {
        "source_selection": {"alias": "random", "params": {"seed": 7}},
        "deployment": {"alias": "fixed", "params": {"placement": {"detect": ["edge1", "edge9"]}}},
    }
    with start(config) as url:
        plan_of(url, plan_request())
        assert loopback.post(f"{url}/feedback", content=task.to_json()).json()["kind"] == "task"
        assert loopback.post(f"{url}/feedback", content=drop.model_dump_json()).json()["kind"] == "drop"
        assert loopback.post(f"{url}/resources", content=report.model_dump_json()).status_code == 200
        resources = loopback.get(f"{url}/resources").json()
        sources = [{"source_id": f"cam{i}", "candidates": ["edge1", "edge2"]} for i in range(6)]
        placement = loopback.post(f"{url}/source-selection", json={"sources": sources}).json()["placement"]
        deployed = loopback.post(
            f"{url}/deployment", json={"services": ["detect", "classify"], "nodes": ["cloud", "edge1"]}
        )
        stats = loopback.get(f"{url}/stats").json()
    assert resources["edge1"]["cpu"] == 0.25 and resources["edge1"]["queue_lengths"] == {"detect": 2}
    assert set(placement) == {f"cam{i}" for i in range(6)} and set(placement.values()) <= {"edge1", "edge2"}
    assert deployed.json()["deployment"] == {"detect": ["edge1"], "classify": ["cloud", "edge1"]}
    assert deployed.json()["deployment_version"] >= 1
    assert stats["feedback"] == {"tasks": 1, "drops": 1, "agents_rebuilt": 0}
    assert stats["nodes_reporting"] == ["edge1"]


def test_bad_input_gets_4xx_and_the_service_lives_on() -> None:
    with start({}) as url:
        malformed = loopback.post(f"{url}/feedback", content=b"{oops")
        bad_task = loopback.post(f"{url}/feedback", json={"source_id": "cam1"})
        bad_plan = loopback.post(f"{url}/plan", json={"source_id": "cam1"})
        bad_report = loopback.post(f"{url}/resources", json={"node": "edge1", "at": 0, "cpu": 3})
        health = loopback.get(f"{url}/health")
    assert malformed.status_code == 400 and "malformed JSON" in malformed.json()["error"]["message"]
    assert bad_task.status_code == 400 and "malformed task" in bad_task.json()["error"]["message"]
    assert bad_plan.status_code == 400 and "source_node" in bad_plan.json()["error"]["message"]
    assert bad_report.status_code == 400 and "cpu" in bad_report.json()["error"]["message"]
    assert health.status_code == 200
