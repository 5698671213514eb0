"""Synthetic feedback and plan requests for agent unit tests (no servers: agents are plain objects)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from common.dag import DagSpec, ServiceType, StageSpec, build_dag
from common.feedback import ContentFeatures, DropFeedback, StageFeedback, TaskFeedback
from common.plan import Plan, PlanRequest, ResourceReport
from common.registry import REGISTRY
from common.task import Meta
from services.scheduler.agent import FAMILY, Agent, AgentContext
from services.scheduler.history import SourceHistory

CATALOG = {"detect": ServiceType(input="frame", output="bbox"), "classify": ServiceType(input="bbox", output="text")}
_task_ids = iter(range(10**9))


def request(source_node: str = "edge1", edge_nodes: tuple[str, ...] = ("edge1", "edge2")) -> PlanRequest:
    dag = build_dag(
        DagSpec(stages=[StageSpec(name="d", service="detect", next=["c"]), StageSpec(name="c", service="classify")]),
        CATALOG,
    )
    return PlanRequest(source_id="cam1", source_node=source_node, dag=dag, edge_nodes=list(edge_nodes))


class FakeClock:
    """A clock the test moves by hand, so periods and timeouts do not depend on how loaded the machine is."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_agent(
    alias: str,
    params: Mapping[str, Any] | None = None,
    *,
    startup: Meta | None = None,
    resources: Mapping[str, ResourceReport] | None = None,
    clock: FakeClock | None = None,
) -> Agent:
    context = AgentContext(
        source_id="cam1",
        cloud="cloud",
        startup=Plan(meta=startup or Meta(resolution="720p", fps=10, buffer_size=4)),
        resources=dict(resources or {}),
        history=SourceHistory(256),
        clock=clock or FakeClock(),
    )
    agent: Agent = REGISTRY.create(FAMILY, alias, params or {}, context=context)
    return agent


def task(
    meta: Meta,
    delay: float,
    *,
    accuracy: float | None = None,
    size: int = 100_000,
    obj_num: float = 3.0,
    velocity: float = 0.1,
    nodes: Mapping[str, str] | None = None,
    service_s: float = 0.05,
) -> TaskFeedback:
    placed = nodes or {"d": "edge1", "c": "cloud"}
    return TaskFeedback(
        source_id="cam1",
        task_id=next(_task_ids),
        source_node="edge1",
        created_at=time.time(),
        finished_at=time.time(),
        delay=delay,
        meta=meta,
        segment_bytes=size,
        stages=[
            StageFeedback(
                stage=stage,
                service="detect" if stage == "d" else "classify",
                node=node,
                transmit=0.01,
                queue=0.0,
                service_time=service_s,
            )
            for stage, node in placed.items()
        ],
        content=ContentFeatures(obj_num=obj_num, obj_size=0.02, obj_velocity=velocity),
        accuracy=accuracy,
    )


def drop(meta: Meta | None) -> DropFeedback:
    return DropFeedback(source_id="cam1", task_id=next(_task_ids), reason="queue_full", meta=meta)


def feed(agent: Agent, items: list[TaskFeedback | DropFeedback]) -> None:
    for item in items:
        agent.context.history.add(item)
        agent.on_feedback(item)


def feed_delays(agent: Agent, delay: float, n: int, **kwargs: Any) -> Plan:
    """Feed ``n`` tasks made with the agent's current plan, each with ``delay``; return the next plan."""
    meta = agent.decide(request()).meta
    feed(agent, [task(meta, delay, **kwargs) for _ in range(n)])
    return agent.decide(request())
