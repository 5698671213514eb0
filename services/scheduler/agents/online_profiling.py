"""``online-profiling``: ``offline-profiling`` with the latency table learnt from feedback while running.

Each finished task updates, per stage, a running mean of the model time per frame for its (service,
node, resolution). For services whose cost grows with the objects they see (``per_object``), the time
is kept per detected object and scaled back by the recent object count when estimating. Entries not
yet measured borrow the table file's figure when one is given, else ``default_ms`` (optimistic, so
unexplored nodes get tried).

Accuracy is learnt too, from golden-labelled segments (``golden.every_s``: now and then one segment at the
golden configuration, every stage on the cloud, labelled by the cloud processor's labeller): with an
``accuracy_target`` the agent serves the cheapest resolution that meets the SLO and whose learnt F1
relative to golden reaches the target, instead of the richest that meets the SLO.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from common.feedback import DropFeedback, TaskFeedback
from common.plan import Plan, PlanRequest
from common.registry import HookConfig, hook
from services.scheduler.agent import FAMILY, AgentContext
from services.scheduler.agents.offline_profiling import OfflineProfilingAgent, ProfilingConfig
from services.scheduler.learning.golden import GoldenAccuracy, GoldenLabelsConfig

Entry = tuple[str, str, str]


class OnlineProfilingConfig(ProfilingConfig):
    alpha: float = Field(0.3, gt=0, le=1, description="Weight of the newest measurement in the running mean.")
    per_object: list[str] = Field(
        default_factory=list, description="Services whose time is kept per detected object (e.g. recognisers)."
    )
    golden: GoldenLabelsConfig = Field(
        default_factory=GoldenLabelsConfig, description="Golden-labelled segments the accuracy is learnt from."
    )
    accuracy_target: float | None = Field(
        None, gt=0, le=1, description="F1 relative to golden to reach; none: the richest resolution meeting the SLO."
    )


@hook(FAMILY, "online-profiling")
class OnlineProfilingAgent(OfflineProfilingAgent):
    """Learns ms per frame per (service, node, resolution) from feedback; decides as offline-profiling."""

    Config = OnlineProfilingConfig

    def __init__(self, config: HookConfig, *, context: AgentContext) -> None:
        super().__init__(config, context=context)
        assert isinstance(config, OnlineProfilingConfig)
        self.online = config
        self.learnt: dict[Entry, float] = {}
        self.objects = 1.0
        self.golden = GoldenAccuracy(config.golden, config.ladders, context.clock)

    def on_feedback(self, feedback: TaskFeedback | DropFeedback) -> None:
        super().on_feedback(feedback)
        if not isinstance(feedback, TaskFeedback):
            return
        if feedback.labels is not None:
            self.golden.ingest(feedback.labels)
        objects = feedback.content.obj_num
        if objects is not None:
            self.objects += self.online.alpha * (max(objects, 1.0) - self.objects)
        frames = max(1, feedback.frames)
        for stage in feedback.stages:
            if stage.service_time is None or stage.node is None:
                continue
            ms = stage.service_time * 1000.0 / frames
            if stage.service in self.online.per_object:
                ms /= max(objects or 1.0, 1.0)
            key = (stage.service, stage.node, feedback.meta.resolution)
            old = self.learnt.get(key)
            self.learnt[key] = ms if old is None else old + self.online.alpha * (ms - old)

    def latency_ms(self, service: str, node: str, resolution: str) -> float:
        learnt = self.learnt.get((service, node, resolution))
        if learnt is None:
            return super().latency_ms(service, node, resolution)
        return learnt * self.objects if service in self.online.per_object else learnt

    def decide(self, request: PlanRequest) -> Plan:
        if self.golden.due():
            return self.golden.plan(request, self.meta, self.context.cloud)
        target = self.online.accuracy_target
        if target is None:
            return super().decide(request)
        ladders = self.cfg.ladders
        for index in range(ladders.size("resolution")):
            meta = ladders.set(self.meta, "resolution", index)
            accuracy = self.golden.estimate(meta)
            if accuracy is None or accuracy < target:
                continue
            offload = self.placement(request, meta.resolution)
            if self.estimate_s(request, meta, offload) <= self.cfg.slo_s:
                self.meta = meta
                return Plan(meta=meta.model_copy(deep=True), offload=offload)
        # No resolution is known to be accurate enough within the SLO: the richest that meets it.
        return super().decide(request)

    def info(self) -> dict[str, Any]:
        return {"entries": len(self.learnt), "golden": self.golden.info()}
