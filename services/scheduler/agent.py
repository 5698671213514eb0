"""The ``agent`` hook family: the scheduling policy, one instance per source.

An agent turns a :class:`PlanRequest` into a :class:`Plan` (knobs and, per stage, the node), and may
learn from task feedback and resource reports. Each agent is one file under ``services/scheduler/agents/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from common import families
from common.feedback import DropFeedback, TaskFeedback
from common.plan import Plan, PlanRequest, ResourceReport
from common.registry import REGISTRY, Hook, HookConfig
from common.task import SENTINELS, Meta
from common.topology import Topology
from services.scheduler.history import SourceHistory

FAMILY = families.AGENT


@dataclass
class AgentContext:
    """What an agent knows besides the request: its source, the cloud, the startup plan, live reports."""

    source_id: str
    cloud: str
    startup: Plan
    topology: Topology | None = None
    resources: Mapping[str, ResourceReport] = field(default_factory=dict)
    history: SourceHistory = field(default_factory=SourceHistory)
    clock: Callable[[], float] = time.monotonic
    """Seconds for the agent's own periods and timeouts; tests drive it so a loaded machine decides nothing."""


class AgentConfig(HookConfig):
    meta: Meta | None = Field(None, description="Fixed knobs for this policy; default: the startup plan's.")


class Agent(Hook):
    """Base of every agent hook."""

    Config = AgentConfig

    def __init__(self, config: HookConfig, *, context: AgentContext) -> None:
        super().__init__(config)
        self.context = context

    def decide(self, request: PlanRequest) -> Plan:
        raise NotImplementedError

    def on_feedback(self, feedback: TaskFeedback | DropFeedback) -> None:
        """A finished or dropped task of this agent's source (already in ``context.history``)."""

    def info(self) -> dict[str, Any]:
        """What the agent wants shown in the scheduler's stats (its internal state, costs)."""
        return {}

    def knobs(self) -> Meta:
        meta = getattr(self.config, "meta", None)
        return (meta or self.context.startup.meta).model_copy(deep=True)


def service_stages(request: PlanRequest) -> list[str]:
    return [name for name in request.dag if name not in SENTINELS]


def allowed_nodes(request: PlanRequest, stage: str) -> list[str]:
    """Nodes the stage may run on; empty means any node."""
    return list(request.candidates.get(stage, []))


def place(request: PlanRequest, stage: str, preferred: list[str]) -> str:
    """The first preferred node the stage may run on; else its first candidate; else the first preference."""
    allowed = allowed_nodes(request, stage)
    for node in preferred:
        if not allowed or node in allowed:
            return node
    return allowed[0] if allowed else preferred[0]


def runs_service(topology: Topology | None, service: str, node: str) -> bool:
    """True when the node runs a processor for the service (unknown without a topology: assume it does)."""
    return topology is None or topology.has_processor(service, node)


REGISTRY.declare_modules(
    FAMILY,
    [
        "services.scheduler.agents.fixed",
        "services.scheduler.agents.cloud_only",
        "services.scheduler.agents.edge_only",
        "services.scheduler.agents.fc",
        "services.scheduler.agents.dynamic",
        "services.scheduler.agents.hei_nf",
        "services.scheduler.agents.chameleon",
        "services.scheduler.agents.offline_profiling",
        "services.scheduler.agents.online_profiling",
        "services.scheduler.agents.casva",
        "services.scheduler.agents.hei",
        "services.scheduler.agents.awstream",
    ],
)


def startup_offload(agent: Agent, request: PlanRequest) -> dict[str, str]:
    """The startup plan's placement (stages it does not name stay on the source's node)."""
    startup = agent.context.startup.offload
    return {
        stage: place(request, stage, [startup.get(stage) or request.source_node]) for stage in service_stages(request)
    }


def edge_choices(agent: Agent, request: PlanRequest, stage: str) -> list[str]:
    """Edge nodes (the source's first) the stage may run on and that run its service."""
    service = request.dag[stage].service
    allowed = allowed_nodes(request, stage)
    nodes = [request.source_node, *[n for n in request.edge_nodes if n != request.source_node]]
    return [
        n
        for n in nodes
        if n != agent.context.cloud
        and (not allowed or n in allowed)
        and runs_service(agent.context.topology, service, n)
    ]


def link_mbps(agent: Agent, node: str) -> float | None:
    """The bandwidth from ``node`` to the cloud its monitor last measured."""
    report = agent.context.resources.get(node)
    return None if report is None else report.bandwidth_mbps
