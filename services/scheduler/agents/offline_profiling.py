"""``offline-profiling``: placement and resolution from a latency table measured beforehand (``dayuctl profile``).

With a fast measured link (above ``bandwidth_mbps``) every stage goes to the cloud. Otherwise each stage
is placed on a node drawn with probability proportional to ``weight / latency`` (latency from the table
at the current resolution; the node's weight halved while its queue for the service is longer than
``queue_long``). Then the richest resolution whose estimated delay (model time of every stage for the
segment's frames, plus, when a stage leaves the source's node, the segment's time on the measured link)
meets the SLO is chosen.

The time on the link is a queue's, not one segment's: segments arrive every ``buffer_size / fps`` seconds,
so a configuration whose bit rate reaches the link's rate builds a backlog that grows without bound even
when each segment alone would cross in time. The estimate is the mean sojourn of an M/D/1 queue
(Pollaczek-Khinchine: ``S * (1 + rho / (2 * (1 - rho)))`` for a segment's transfer time ``S`` and link
utilisation ``rho``), infinite from ``rho >= 1``.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict

from pydantic import Field

from common.feedback import DropFeedback, TaskFeedback
from common.plan import Plan, PlanRequest
from common.profile_table import ProfileTable, load_table
from common.registry import HookConfig, hook
from common.task import Meta
from services.scheduler.agent import (
    FAMILY,
    Agent,
    AgentConfig,
    AgentContext,
    allowed_nodes,
    link_mbps,
    place,
    runs_service,
    service_stages,
)
from services.scheduler.knobs import Ladders

HEIGHTS = {"360p": 360, "480p": 480, "540p": 540, "720p": 720, "1080p": 1080}


class ProfilingConfig(AgentConfig):
    table: str | None = Field(None, description="Profile table file written by `dayuctl profile`.")
    slo_s: float = Field(1.0, gt=0, description="Delay a segment should meet, seconds.")
    bandwidth_mbps: float = Field(
        20.0, ge=0, description="Above this measured bandwidth every stage goes to the cloud."
    )
    queue_long: int = Field(5, ge=0, description="A node whose queue is longer than this has its weight halved.")
    default_ms: float = Field(50.0, gt=0, description="ms per frame assumed where the table has no entry.")
    seed: int | None = Field(None, description="Seed of the placement draws.")
    ladders: Ladders = Field(default_factory=Ladders, description="Values the knobs may take, cheapest first.")


def link_sojourn_s(bits_per_frame: float, frames: int, fps: float, bandwidth_mbps: float) -> float:
    """Mean time a segment of ``frames`` spends on a link of ``bandwidth_mbps`` that a stream at ``fps``
    keeps sending such segments over: M/D/1 waiting plus its own transfer; infinite once the stream's bit
    rate reaches the link's."""
    rate = bandwidth_mbps * 1e6
    transfer = bits_per_frame * frames / rate
    rho = bits_per_frame * fps / rate
    if rho >= 1.0:
        return math.inf
    return transfer * (1.0 + rho / (2.0 * (1.0 - rho)))


@hook(FAMILY, "offline-profiling")
class OfflineProfilingAgent(Agent):
    """Profile-table placement (cloud on fast links), then the richest resolution meeting the SLO."""

    Config = ProfilingConfig

    def __init__(self, config: HookConfig, *, context: AgentContext) -> None:
        super().__init__(config, context=context)
        assert isinstance(config, ProfilingConfig)
        self.cfg = config
        self.table = self.load()
        self.random = random.Random(config.seed)
        self.meta = self.knobs()
        self.bytes_seen: dict[str, list[float]] = defaultdict(list)

    def load(self) -> ProfileTable:
        return load_table(self.cfg.table) if self.cfg.table else ProfileTable()

    def on_feedback(self, feedback: TaskFeedback | DropFeedback) -> None:
        if isinstance(feedback, TaskFeedback) and feedback.segment_bytes:
            seen = self.bytes_seen[feedback.meta.resolution]
            seen.append(feedback.segment_bytes / max(1, feedback.frames))
            del seen[:-32]

    def latency_ms(self, service: str, node: str, resolution: str) -> float:
        found = self.table.lookup(service, node, resolution)
        return self.cfg.default_ms if found is None else found

    def bytes_per_frame(self, resolution: str) -> float:
        """Measured where known, else scaled by pixel count from the nearest measured resolution."""
        if self.bytes_seen.get(resolution):
            return sum(self.bytes_seen[resolution]) / len(self.bytes_seen[resolution])
        known = {r: sum(v) / len(v) for r, v in self.bytes_seen.items() if v and r in HEIGHTS}
        if not known or resolution not in HEIGHTS:
            return 0.0
        ref = min(known, key=lambda r: abs(HEIGHTS[r] - HEIGHTS[resolution]))
        return known[ref] * (HEIGHTS[resolution] / HEIGHTS[ref]) ** 2

    def weight(self, service: str, node: str) -> float:
        report = self.context.resources.get(node)
        long_queue = report is not None and report.queue_lengths.get(service, 0) > self.cfg.queue_long
        return 0.5 if long_queue else 1.0

    def candidates(self, request: PlanRequest, stage: str) -> list[str]:
        service = request.dag[stage].service
        nodes = allowed_nodes(request, stage) or [request.source_node, *request.edge_nodes, self.context.cloud]
        unique = list(dict.fromkeys(nodes))
        return [n for n in unique if runs_service(self.context.topology, service, n)] or unique

    def placement(self, request: PlanRequest, resolution: str) -> dict[str, str]:
        stages = service_stages(request)
        bandwidth = link_mbps(self, request.source_node)
        if bandwidth is not None and bandwidth > self.cfg.bandwidth_mbps:
            return {stage: place(request, stage, [self.context.cloud]) for stage in stages}
        offload = {}
        for stage in stages:
            service = request.dag[stage].service
            nodes = self.candidates(request, stage)
            weights = [self.weight(service, n) / max(1e-3, self.latency_ms(service, n, resolution)) for n in nodes]
            offload[stage] = self.random.choices(nodes, weights=weights)[0]
        return offload

    def estimate_s(self, request: PlanRequest, meta: Meta, offload: dict[str, str]) -> float:
        frames = meta.buffer_size
        compute = sum(
            self.latency_ms(request.dag[stage].service, node, meta.resolution) * frames / 1000.0
            for stage, node in offload.items()
        )
        leaves = any(node != request.source_node for node in offload.values())
        bandwidth = link_mbps(self, request.source_node)
        if not (leaves and bandwidth):
            return compute
        return compute + link_sojourn_s(self.bytes_per_frame(meta.resolution) * 8, frames, meta.fps, bandwidth)

    def decide(self, request: PlanRequest) -> Plan:
        ladders = self.cfg.ladders
        chosen: tuple[Meta, dict[str, str]] | None = None
        for index in reversed(range(ladders.size("resolution"))):
            meta = ladders.set(self.meta, "resolution", index)
            offload = self.placement(request, meta.resolution)
            if self.estimate_s(request, meta, offload) <= self.cfg.slo_s:
                chosen = (meta, offload)
                break
        if chosen is None:
            meta = ladders.set(self.meta, "resolution", 0)
            chosen = (meta, self.placement(request, meta.resolution))
        self.meta = chosen[0]
        return Plan(meta=self.meta.model_copy(deep=True), offload=chosen[1])
