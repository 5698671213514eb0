"""``profiling`` redeployment: the most expensive services onto the strongest devices, within each node's slots.

Services are ranked by their measured model time per frame (most expensive first); edge nodes by strength
(free CPU, from the monitors' reports). Each service goes to the strongest edge node with a free slot
(``slots`` processors per edge node), and the cloud runs every service.
"""

from __future__ import annotations

from pydantic import Field

from common.registry import HookConfig, hook
from services.scheduler.placement import REDEPLOYMENT, ClusterView, Redeployment


class ProfilingRedeploymentConfig(HookConfig):
    slots: int = Field(2, ge=0, le=1000, description="Processors an edge node may run.")


@hook(REDEPLOYMENT, "profiling")
class ProfilingRedeployment(Redeployment):
    """Costly services first, onto the edge nodes with the most free CPU."""

    Config = ProfilingRedeploymentConfig

    def strength(self, view: ClusterView, node: str) -> float:
        report = view.resources.get(node)
        return 1.0 - (report.cpu if report is not None and report.cpu is not None else 0.5)

    def redeploy(self, current: dict[str, list[str]], view: ClusterView) -> dict[str, list[str]]:
        assert isinstance(self.config, ProfilingRedeploymentConfig)
        edges = sorted((n for n in view.nodes if n != view.cloud), key=lambda n: (-self.strength(view, n), n))
        free = dict.fromkeys(edges, self.config.slots)
        ranked = sorted(view.services, key=lambda s: (-view.service_ms.get(s, 0.0), s))
        out: dict[str, list[str]] = {}
        for service in ranked:
            nodes = [view.cloud] if view.cloud in view.nodes else []
            for edge in edges:
                if free[edge] > 0:
                    free[edge] -= 1
                    nodes.append(edge)
                    break
            out[service] = nodes
        return out
