"""Placement, where sources and processors run: the ``source_selection``, ``deployment`` (initial) and
``redeployment`` hook families (the scheduling policies themselves are the agents, ``services/scheduler/agents/``).

Source selection places each source (its generator) on one of its candidate nodes; deployment
decides which nodes run a processor for each service at install; redeployment revises that every
interval from what the scheduler has learnt. Each plugin is one file under
``services/scheduler/source_selections/``, ``services/scheduler/deployments/`` or
``services/scheduler/redeployments/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from common.contracts.scheduler import SourceCandidates
from common.plan import ResourceReport
from common.registry import REGISTRY, Hook

__all__ = [
    "DEPLOYMENT",
    "REDEPLOYMENT",
    "SOURCE_SELECTION",
    "ClusterView",
    "Deployment",
    "Redeployment",
    "SourceCandidates",
    "SourceSelection",
]

SOURCE_SELECTION = "source_selection"
DEPLOYMENT = "deployment"
REDEPLOYMENT = "redeployment"


class SourceSelection(Hook):
    def select(self, sources: list[SourceCandidates]) -> dict[str, str]:
        raise NotImplementedError


class Deployment(Hook):
    def deploy(self, services: list[str], nodes: list[str]) -> dict[str, list[str]]:
        raise NotImplementedError


@dataclass
class ClusterView:
    """What a redeployment sees: the services and nodes, live reports, and measured model cost."""

    services: list[str]
    nodes: list[str]
    cloud: str
    resources: Mapping[str, ResourceReport] = field(default_factory=dict)
    service_ms: Mapping[str, float] = field(default_factory=dict)
    """Service -> mean measured model time per frame (ms), from task feedback."""


class Redeployment(Hook):
    def redeploy(self, current: dict[str, list[str]], view: ClusterView) -> dict[str, list[str]]:
        raise NotImplementedError


REGISTRY.declare_modules(
    SOURCE_SELECTION,
    ["services.scheduler.source_selections.fixed", "services.scheduler.source_selections.random"],
)
REGISTRY.declare_modules(
    DEPLOYMENT,
    [
        "services.scheduler.deployments.full",
        "services.scheduler.deployments.fixed",
        "services.scheduler.deployments.random",
    ],
)
REGISTRY.declare_modules(
    REDEPLOYMENT,
    [
        "services.scheduler.redeployments.none",
        "services.scheduler.redeployments.fixed",
        "services.scheduler.redeployments.dynamic",
        "services.scheduler.redeployments.profiling",
    ],
)
