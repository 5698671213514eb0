"""Synthetic feedback and plan requests for agent unit tests (no servers: agents are plain objects)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
EPOCH = 1_765_000_000.0
"""A fixed wall-clock stamp for feedback (December 2025), so no test reads the real clock."""


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


class SkewedGenerator:
    """Stamps feedback as a generator (or the controller that drops a task) whose clock is ``skew_s`` off the
    scheduler's: a real cluster's NTP-synchronised nodes still differ by up to seconds."""

    def __init__(self, scheduler: FakeClock, skew_s: float) -> None:
        self.scheduler, self.skew_s = scheduler, skew_s

    def now(self) -> float:
        return self.scheduler() + self.skew_s

    def made(self, meta: Meta, delay: float, n: int, *, at: float | None = None, **kwargs: Any) -> list[TaskFeedback]:
        """``n`` tasks made with ``meta`` now (or at the scheduler's time ``at``, e.g. before a change)."""
        start = self.now() if at is None else at + self.skew_s
        return [task(meta, delay, created_at=start + 0.4 * i, **kwargs) for i in range(n)]

    def dropped(self, meta: Meta | None, n: int) -> list[DropFeedback]:
        return [drop(meta, at=self.now() + 0.1 * i) for i in range(n)]


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
    created_at: float = EPOCH,
) -> TaskFeedback:
    """A finished task; ``created_at`` is the generator's stamp (no agent may compare it with its own clock)."""
    placed = nodes or {"d": "edge1", "c": "cloud"}
    return TaskFeedback(
        source_id="cam1",
        task_id=next(_task_ids),
        source_node="edge1",
        created_at=created_at,
        finished_at=created_at + delay,
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


def drop(meta: Meta | None, *, at: float = EPOCH) -> DropFeedback:
    """A dropped task; ``at`` is stamped by the node that dropped it."""
    return DropFeedback(source_id="cam1", task_id=next(_task_ids), reason="queue_full", meta=meta, at=at)


def feed(agent: Agent, items: Sequence[TaskFeedback | DropFeedback]) -> None:
    for item in items:
        agent.context.history.add(item)
        agent.on_feedback(item)


def feed_delays(agent: Agent, delay: float, n: int, **kwargs: Any) -> Plan:
    """Feed ``n`` tasks made with the agent's current plan, each with ``delay``; return the next plan."""
    meta = agent.decide(request()).meta
    feed(agent, [task(meta, delay, **kwargs) for _ in range(n)])
    return agent.decide(request())
