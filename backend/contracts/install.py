"""Install requests and the install state (a state machine: see :mod:`backend.install.state`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from backend.deploy.base import InstanceStatus
from common.workload import Workload


class SourceInstall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_id: str = Field(min_length=1, max_length=40, description="A source of the datasource config.")
    dag: str = Field(min_length=1, max_length=64, description="Name of a stored DAG.")
    nodes: list[str] = Field(default_factory=list, description="Nodes the DAG's services may run on; empty: all.")


class InstallRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: str | None = Field(None, description="Policy id; default: the template's default policy.")
    datasource: str = Field(min_length=1, description="Datasource config id.")
    sources: list[SourceInstall] = Field(default_factory=list, description="Per source: DAG and candidate nodes.")
    dag: str | None = Field(None, description="DAG for every source not listed in `sources`.")
    trace: str | None = Field(
        None,
        description="Bandwidth trace (a name in template/traces/ or a CSV path) every link to the cloud follows "
        "from install time; none: the links of base.yaml. Local runtime only.",
    )
    trace_mode: Literal["loop", "hold"] = Field("loop", description="At the trace's end: start again or hold.")


class InstallPhase(StrEnum):
    """Where an install is. The transitions allowed between them are in :mod:`backend.install.state`."""

    UNINSTALLED = "uninstalled"
    INSTALLING = "installing"
    INSTALLED = "installed"
    DEGRADED = "degraded"
    UNINSTALLING = "uninstalling"
    FAILED = "failed"


class ErrorInfo(BaseModel):
    """Why an install failed: the shape of every error response's ``error`` member."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field("internal_error", description="Stable machine-readable code.")
    message: str = Field(description="What went wrong, for people.")
    detail: Any = Field(None, description="Structured detail (e.g. the workloads that were not ready).")


class ProgressEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: float = Field(description="Wall clock, seconds.")
    step: str = Field(description="Step reached (validated, stage1, stage2, done, ...).")
    message: str


class InstalledSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_id: str
    dag: str = Field(description="Name of the DAG the source runs.")
    nodes: list[str] = Field(description="Nodes its services may run on.")


class InstallState(BaseModel):
    """The backend's install state, as stored and as ``GET /api/install`` answers it."""

    model_config = ConfigDict(extra="forbid")

    phase: InstallPhase = InstallPhase.UNINSTALLED
    step: str | None = Field(None, description="Step within the phase (validated, stage1, stage2, done, ...).")
    policy: str | None = None
    datasource: str | None = Field(None, description="Datasource config id.")
    request: InstallRequest | None = Field(None, description="The request this install was made from.")
    sources: list[InstalledSource] = Field(default_factory=list)
    run_id: str | None = Field(None, description="Name of this install; the distributor keeps its results apart.")
    ready: str | None = Field(None, description="Workloads ready of the current stage, e.g. `3/5`.")
    placement: dict[str, str] = Field(default_factory=dict, description="Source id -> node of its generator.")
    deployment: dict[str, list[str]] = Field(default_factory=dict, description="Service -> nodes it runs on.")
    workloads: list[Workload] = Field(default_factory=list, description="What is deployed.")
    progress: list[ProgressEntry] = Field(default_factory=list, description="The latest steps, oldest first.")
    error: ErrorInfo | None = Field(None, description="Why the install failed.")
    degraded_reason: str | None = Field(None, description="Why the install is degraded (a component is down).")
    started: float | None = Field(None, description="When the install started (wall clock).")
    installed_at: float | None = None
    updated: float | None = None

    @property
    def deployed(self) -> bool:
        """Workloads are up and serving (possibly with a component down)."""
        return self.phase in (InstallPhase.INSTALLED, InstallPhase.DEGRADED)


class LinkView(BaseModel):
    """One emulated link between two nodes."""

    model_config = ConfigDict(extra="forbid")

    a: str
    b: str
    bandwidth_mbps: float | None = Field(None, description="Configured bandwidth.")
    latency_ms: float | None = Field(None, description="Configured one-way latency.")
    trace: str | None = Field(None, description="Bandwidth trace the link follows.")
    trace_mode: str | None = Field(None, description="loop or hold, when a trace is set.")
    current_mbps: float | None = Field(None, description="Rate in force now.")
    tc_rate_mbps: float | None = Field(None, description="Rate `tc` shapes the pair to (namespace mode).")


class LinkEmulation(BaseModel):
    """How the runtime emulates the links between nodes."""

    model_config = ConfigDict(extra="forbid")

    mode: str | None = Field(None, description="Link mode that ran (e.g. netns, process).")
    requested: str | None = Field(None, description="Link mode asked for.")
    reason: str | None = Field(None, description="Why the mode asked for was not used.")
    trace_clock: str | None = Field(
        None, description="install: traces replay from install; held: they wait for the runtime to start them."
    )
    trace_start: float | None = Field(None, description="When the traces started (wall clock; null: held).")
    links: list[LinkView] = Field(default_factory=list)


class InstallStatus(InstallState):
    """``GET /api/install``: the install state and, where the runtime emulates them, the links."""

    links: LinkEmulation | None = Field(None, description="Link emulation; null where the runtime does none.")


class RedeployResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    added: list[str] = Field(description="Processor workloads started.")
    removed: list[str] = Field(description="Processor workloads removed.")
    deployment: dict[str, list[str]] = Field(description="Service -> nodes, as now deployed.")


class Instance(BaseModel):
    """A deployed workload as the runtime reports it, with its age."""

    model_config = ConfigDict(extra="forbid")

    name: str
    component: str
    node: str
    service: str | None = None
    source_id: str | None = None
    ready: bool = Field(description="Healthy and serving.")
    phase: str = Field(description="running, starting, exited, pending, ...")
    started_at: float | None = Field(None, description="Wall clock when it started.")
    age_s: float | None = Field(None, description="Seconds since it started.")
    cpu: float | None = Field(None, description="CPU use in cores.")
    memory_mb: float | None = Field(None, description="Resident memory in MiB.")
    message: str = Field("", description="Why it is not ready, when known.")
    restarts: int = Field(0, ge=0, description="Times the runtime restarted it after it crashed.")

    @classmethod
    def of(cls, status: InstanceStatus) -> Instance:
        age = status.age_s()
        return cls(**status.model_dump(), age_s=None if age is None else round(age, 1))


class InstanceList(RootModel[list[Instance]]):
    """``GET /api/instances``."""
