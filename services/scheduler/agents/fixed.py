"""``fixed``: the plan from config (or the startup plan), whatever happens."""

from __future__ import annotations

from pydantic import Field

from common.plan import Plan, PlanRequest
from common.registry import hook
from services.scheduler.agent import FAMILY, Agent, AgentConfig, place, service_stages


class FixedConfig(AgentConfig):
    offload: dict[str, str] = Field(
        default_factory=dict, description="Stage -> node; stages not named follow the startup plan, else the source."
    )


@hook(FAMILY, "fixed")
class FixedAgent(Agent):
    """Same knobs and placement for every task."""

    Config = FixedConfig

    def decide(self, request: PlanRequest) -> Plan:
        assert isinstance(self.config, FixedConfig)
        startup = self.context.startup.offload
        offload = {}
        for stage in service_stages(request):
            wanted = self.config.offload.get(stage) or startup.get(stage) or request.source_node
            offload[stage] = place(request, stage, [wanted])
        return Plan(meta=self.knobs(), offload=offload)
