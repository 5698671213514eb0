"""``fixed`` redeployment: back to the configured placement at every interval (undoing manual changes)."""

from __future__ import annotations

from pydantic import Field

from common.registry import HookConfig, hook
from services.scheduler.placement import REDEPLOYMENT, ClusterView, Redeployment


class FixedRedeploymentConfig(HookConfig):
    placement: dict[str, list[str]] = Field(
        default_factory=dict, description="Service -> nodes; services not named keep their current nodes."
    )


@hook(REDEPLOYMENT, "fixed")
class FixedRedeployment(Redeployment):
    """The configured nodes that exist; other services as they are."""

    Config = FixedRedeploymentConfig

    def redeploy(self, current: dict[str, list[str]], view: ClusterView) -> dict[str, list[str]]:
        assert isinstance(self.config, FixedRedeploymentConfig)
        out = {}
        for service in view.services:
            wanted = self.config.placement.get(service)
            out[service] = list(current.get(service, [])) if wanted is None else [n for n in wanted if n in view.nodes]
        return out
