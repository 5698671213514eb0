"""The ``agent`` hook family: the scheduling policy, one instance per source.

An agent turns a :class:`PlanRequest` into a :class:`Plan` (knobs and, per stage, the node), and may
learn from task feedback and resource reports. Each agent is one file under ``services/scheduler/agents/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import Field

from common.plan import Plan, PlanRequest, ResourceReport
from common.records import DropRecord
from common.registry import REGISTRY, Hook, HookConfig
from common.task import SENTINELS, Meta, Task
from common.topology import Topology

FAMILY = "agent"


@dataclass
class AgentContext:
    """What an agent knows besides the request: its source, the cloud, the startup plan, live reports."""

    source_id: str
    cloud: str
    startup: Plan
    topology: Topology | None = None
    resources: Mapping[str, ResourceReport] = field(default_factory=dict)


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

    def on_task(self, task: Task) -> None:
        """A finished task of this agent's source."""

    def on_drop(self, record: DropRecord) -> None:
        """A dropped task of this agent's source."""

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
    ],
)
