"""``full`` deployment: every service on every node."""

from __future__ import annotations

from common.registry import hook
from services.scheduler.placement import DEPLOYMENT, Deployment


@hook(DEPLOYMENT, "full")
class FullDeployment(Deployment):
    """Deploys each service on all the nodes given."""

    def deploy(self, services: list[str], nodes: list[str]) -> dict[str, list[str]]:
        return {service: list(nodes) for service in services}
