"""``dynamic`` redeployment by load: every service on the cloud and on the edge nodes with room to spare.

A node has room when the mean of its CPU and memory utilisation is below ``max_load``; a node without a
report keeps what it runs. The cloud always runs every service, so no stage is left without a processor.
"""

from __future__ import annotations

from pydantic import Field

from common.registry import HookConfig, hook
from services.scheduler.placement import REDEPLOYMENT, ClusterView, Redeployment


class DynamicRedeploymentConfig(HookConfig):
    max_load: float = Field(0.8, gt=0, le=1, description="Mean CPU/memory use above which a node loses its processors.")


@hook(REDEPLOYMENT, "dynamic")
class DynamicRedeployment(Redeployment):
    """Processors leave overloaded edge nodes and come back when they have room."""

    Config = DynamicRedeploymentConfig

    def load(self, view: ClusterView, node: str) -> float | None:
        report = view.resources.get(node)
        used = [v for v in ((report.cpu, report.memory) if report else ()) if v is not None]
        return sum(used) / len(used) if used else None

    def redeploy(self, current: dict[str, list[str]], view: ClusterView) -> dict[str, list[str]]:
        assert isinstance(self.config, DynamicRedeploymentConfig)
        out = {}
        for service in view.services:
            nodes = []
            for node in view.nodes:
                load = self.load(view, node)
                keep = node in current.get(service, []) if load is None else load < self.config.max_load
                if node == view.cloud or keep:
                    nodes.append(node)
            out[service] = nodes
        return out
