"""The ``source_selection`` and ``deployment`` hook families.

Source selection places each source (its generator) on one of its candidate nodes; deployment
decides which nodes run a processor for each service. Each policy is one file under
``services/scheduler/source_selections/`` or ``services/scheduler/deployments/``.
"""

from __future__ import annotations

from common.contracts.scheduler import SourceCandidates
from common.registry import REGISTRY, Hook

__all__ = ["DEPLOYMENT", "SOURCE_SELECTION", "Deployment", "SourceCandidates", "SourceSelection"]

SOURCE_SELECTION = "source_selection"
DEPLOYMENT = "deployment"


class SourceSelection(Hook):
    def select(self, sources: list[SourceCandidates]) -> dict[str, str]:
        raise NotImplementedError


class Deployment(Hook):
    def deploy(self, services: list[str], nodes: list[str]) -> dict[str, list[str]]:
        raise NotImplementedError


REGISTRY.declare_modules(
    SOURCE_SELECTION,
    ["services.scheduler.source_selections.fixed", "services.scheduler.source_selections.random"],
)
REGISTRY.declare_modules(DEPLOYMENT, ["services.scheduler.deployments.full", "services.scheduler.deployments.fixed"])
