"""Workloads: the one deployment description that every runtime (local, kubernetes, compose) renders."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Component = Literal["generator", "controller", "processor", "distributor", "scheduler", "monitor"]

COMPONENT_MODULES: dict[str, str] = {
    "generator": "services.generator",
    "controller": "services.controller",
    "processor": "services.processor",
    "distributor": "services.distributor",
    "scheduler": "services.scheduler",
    "monitor": "services.monitor",
}
"""``python -m <module>`` starts each component."""


class Mount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host_path: str
    container_path: str
    read_only: bool = False


class Workload(BaseModel):
    """One component instance on one node."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63, description="Unique, DNS-safe.")
    component: Component
    node: str
    service: str | None = Field(None, description="Service id, for processors.")
    source_id: str | None = Field(None, description="Source id, for generators.")
    image: str | None = Field(None, description="Container image (kubernetes, compose).")
    port: int | None = Field(
        None, ge=1, le=65535, description="Listening port; the local runtime assigns one if unset."
    )
    env: dict[str, str] = Field(default_factory=dict)
    config: dict[str, Any] = Field(
        default_factory=dict, description="Component config; passed as DAYU_CONFIG (file path or inline JSON)."
    )
    mounts: list[Mount] = Field(default_factory=list)
    command: list[str] | None = Field(None, description="Override of `python -m services.<component>`.")
    stage: Literal[1, 2] = Field(2, description="Install stage: 1 = scheduler, distributor, monitors; 2 = the rest.")

    def topology_key(self) -> str:
        """Key of this workload in a node's ``components``/``processors`` of the topology."""
        if self.component == "processor":
            return self.service or self.name
        if self.component == "generator":
            return f"generator/{self.source_id or self.name}"
        return self.component
