"""``cloud-only``: every stage offloaded to the cloud node, with fixed knobs."""

from __future__ import annotations

from common.plan import Plan, PlanRequest
from common.registry import hook
from services.scheduler.agent import FAMILY, Agent, place, service_stages


@hook(FAMILY, "cloud-only")
class CloudOnlyAgent(Agent):
    """Runs every stage on the cloud (or, where candidates exclude it, on the stage's first candidate)."""

    def decide(self, request: PlanRequest) -> Plan:
        cloud = self.context.cloud
        offload = {stage: place(request, stage, [cloud]) for stage in service_stages(request)}
        return Plan(meta=self.knobs(), offload=offload)
