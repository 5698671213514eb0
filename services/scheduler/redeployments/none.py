"""``none`` redeployment: the install's deployment stays."""

from __future__ import annotations

from common.registry import hook
from services.scheduler.placement import REDEPLOYMENT, ClusterView, Redeployment


@hook(REDEPLOYMENT, "none")
class NoRedeployment(Redeployment):
    """Never moves a processor."""

    def redeploy(self, current: dict[str, list[str]], view: ClusterView) -> dict[str, list[str]]:
        return current
