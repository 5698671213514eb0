"""The ``source_selection`` and ``deployment`` hook families.

Source selection places each source (its generator) on one of its candidate nodes; deployment
decides which nodes run a processor for each service. Each policy is one file under
``services/scheduler/source_selections/`` or ``services/scheduler/deployments/``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from common.registry import REGISTRY, Hook

SOURCE_SELECTION = "source_selection"
DEPLOYMENT = "deployment"


class SourceCandidates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_id: str = Field(min_length=1, max_length=128)
    candidates: list[str] = Field(min_length=1, description="Nodes the source may be placed on.")


class SourceSelectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[SourceCandidates] = Field(max_length=10_000)


class DeploymentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    services: list[str] = Field(max_length=1000, description="Service ids to deploy.")
    nodes: list[str] = Field(min_length=1, max_length=10_000, description="Nodes available.")


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
