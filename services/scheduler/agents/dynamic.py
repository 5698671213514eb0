"""``dynamic``: a bandwidth and resource heuristic for placement, with queue-driven knob steps.

When the bandwidth the source node's monitor measured to the cloud exceeds ``bandwidth_mbps``, every
stage goes to the cloud. Otherwise each stage goes to an edge node drawn with probability proportional
to ``1 - mean(cpu, memory utilisation)`` (nodes without a report count as half used). When a processor
queue on the chosen nodes grows past ``queue_high`` the resolution steps down; when every queue is at
most ``queue_low`` it steps back up towards the startup plan's.
"""

from __future__ import annotations

import random

from pydantic import Field

from common.plan import Plan, PlanRequest
from common.registry import HookConfig, hook
from services.scheduler.agent import (
    FAMILY,
    Agent,
    AgentConfig,
    AgentContext,
    edge_choices,
    link_mbps,
    place,
    service_stages,
)
from services.scheduler.knobs import Ladders


class DynamicConfig(AgentConfig):
    bandwidth_mbps: float = Field(
        10.0, ge=0, description="Above this measured bandwidth every stage goes to the cloud."
    )
    queue_high: int = Field(5, ge=1, description="A queue longer than this lowers the resolution one rung.")
    queue_low: int = Field(1, ge=0, description="With every queue at most this, the resolution steps back up.")
    floor: float = Field(
        0.05, gt=0, le=1, description="Least weight of a node, so a busy node is rarely, not never, used."
    )
    seed: int | None = Field(None, description="Seed of the placement draws; null: from the system.")
    ladders: Ladders = Field(default_factory=Ladders, description="Values the knobs may take, cheapest first.")


@hook(FAMILY, "dynamic")
class DynamicAgent(Agent):
    """Cloud on a fast link; otherwise the least loaded edge nodes, by weighted draw."""

    Config = DynamicConfig

    def __init__(self, config: HookConfig, *, context: AgentContext) -> None:
        super().__init__(config, context=context)
        assert isinstance(config, DynamicConfig)
        self.cfg = config
        self.random = random.Random(config.seed)
        self.meta = self.knobs()
        self.ceiling = config.ladders.index(self.meta, "resolution")

    def free(self, node: str) -> float:
        report = self.context.resources.get(node)
        used = [v for v in ((report.cpu, report.memory) if report else ()) if v is not None]
        load = sum(used) / len(used) if used else 0.5
        return max(self.cfg.floor, 1.0 - load)

    def offload(self, request: PlanRequest) -> dict[str, str]:
        cloud = self.context.cloud
        bandwidth = link_mbps(self, request.source_node)
        stages = service_stages(request)
        if bandwidth is not None and bandwidth > self.cfg.bandwidth_mbps:
            return {stage: place(request, stage, [cloud]) for stage in stages}
        offload = {}
        for stage in stages:
            nodes = edge_choices(self, request, stage)
            if not nodes:
                offload[stage] = place(request, stage, [cloud])
                continue
            chosen = self.random.choices(nodes, weights=[self.free(n) for n in nodes])[0]
            offload[stage] = place(request, stage, [chosen])
        return offload

    def queue_pressure(self, request: PlanRequest, offload: dict[str, str]) -> int:
        longest = 0
        for stage, node in offload.items():
            report = self.context.resources.get(node)
            if report is not None:
                longest = max(longest, report.queue_lengths.get(request.dag[stage].service, 0))
        return longest

    def decide(self, request: PlanRequest) -> Plan:
        offload = self.offload(request)
        pressure = self.queue_pressure(request, offload)
        ladders = self.cfg.ladders
        index = ladders.index(self.meta, "resolution")
        if pressure > self.cfg.queue_high:
            self.meta = ladders.set(self.meta, "resolution", index - 1)
        elif pressure <= self.cfg.queue_low and index < self.ceiling:
            self.meta = ladders.set(self.meta, "resolution", index + 1)
        return Plan(meta=self.meta.model_copy(deep=True), offload=offload)
