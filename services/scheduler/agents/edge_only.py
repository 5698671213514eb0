"""``edge-only``: every stage on the source's own node, or the first edge candidate that runs the service."""

from __future__ import annotations

from common.plan import Plan, PlanRequest
from common.registry import hook
from services.scheduler.agent import FAMILY, Agent, allowed_nodes, place, runs_service, service_stages


@hook(FAMILY, "edge-only")
class EdgeOnlyAgent(Agent):
    """Keeps every stage at the edge, preferring the source's node."""

    def decide(self, request: PlanRequest) -> Plan:
        topology = self.context.topology
        offload = {}
        for stage in service_stages(request):
            service = request.dag[stage].service
            allowed = allowed_nodes(request, stage)
            edges = [n for n in (allowed or request.edge_nodes) if n in request.edge_nodes or n == request.source_node]
            preferred = [n for n in [request.source_node, *edges] if runs_service(topology, service, n)]
            offload[stage] = place(request, stage, preferred or [request.source_node])
        return Plan(meta=self.knobs(), offload=offload)
