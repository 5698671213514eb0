"""``fixed`` deployment: the nodes named in config per service (limited to the nodes available)."""

from __future__ import annotations

from pydantic import Field

from common.registry import HookConfig, hook
from services.scheduler.placement import DEPLOYMENT, Deployment


class FixedDeploymentConfig(HookConfig):
    placement: dict[str, list[str]] = Field(
        default_factory=dict, description="Service -> nodes; services not named go on every node."
    )


@hook(DEPLOYMENT, "fixed")
class FixedDeployment(Deployment):
    """Configured nodes that are available; unnamed services everywhere."""

    Config = FixedDeploymentConfig

    def deploy(self, services: list[str], nodes: list[str]) -> dict[str, list[str]]:
        assert isinstance(self.config, FixedDeploymentConfig)
        out = {}
        for service in services:
            wanted = self.config.placement.get(service)
            out[service] = list(nodes) if wanted is None else [n for n in wanted if n in nodes]
        return out
