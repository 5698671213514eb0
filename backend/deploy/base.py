"""The deployer interface every runtime implements, and the readiness wait they share."""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.errors import InvalidInput, Unavailable
from common.topology import NodeSpec, Topology
from common.workload import Workload


class InstanceStatus(BaseModel):
    """What a runtime knows about one deployed workload."""

    model_config = ConfigDict(extra="forbid")

    name: str
    component: str
    node: str
    service: str | None = None
    source_id: str | None = None
    ready: bool = Field(False, description="Healthy and serving.")
    phase: str = Field("unknown", description="running, starting, exited, pending, ...")
    started_at: float | None = Field(None, description="Wall clock when it started.")
    cpu: float | None = Field(None, description="CPU use in cores.")
    memory_mb: float | None = Field(None, description="Resident memory in MiB.")
    message: str = Field("", description="Why it is not ready, when known.")
    restarts: int = Field(0, ge=0, description="Times the runtime restarted it after it crashed.")

    def age_s(self) -> float | None:
        return None if self.started_at is None else max(0.0, time.time() - self.started_at)


class NotReady(BaseModel):
    """A workload a readiness wait gave up on, as its error's ``detail.not_ready`` lists it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    node: str | None = Field(description="Where it was to run; null: it was never deployed.")
    phase: str = Field(description="Its phase then (exited, failed, starting, ...), or `missing`.")
    message: str = Field(description="Why it was not ready, when known.")


class Deployer(ABC):
    """Applies workloads to a runtime. All methods are safe to repeat."""

    kind: str = ""
    follows_traces: bool = False
    """Links can follow a bandwidth trace (``use_trace``)."""

    @abstractmethod
    def nodes(self) -> dict[str, NodeSpec]:
        """The nodes workloads can be placed on (role, arch, labels)."""

    @abstractmethod
    async def apply(self, workloads: Sequence[Workload]) -> None:
        """Create or update these workloads; others already deployed are left alone."""

    @abstractmethod
    async def remove(self, names: Sequence[str]) -> None:
        """Remove these workloads (unknown names are ignored)."""

    @abstractmethod
    async def remove_all(self) -> None:
        """Remove every workload this deployer created."""

    @abstractmethod
    async def status(self) -> list[InstanceStatus]:
        """Every workload this deployer runs."""

    @abstractmethod
    def topology(self) -> Topology | None:
        """Where the deployed components listen (None before anything was deployed)."""

    def use_trace(self, trace: str | None, mode: str = "loop") -> None:
        """Make the links to the cloud follow ``trace`` from the next install (None: as configured)."""
        if trace is not None:
            raise InvalidInput(f"link traces need the local runtime; this deployer is {self.kind!r}")

    def link_status(self) -> dict[str, Any] | None:
        """How links are emulated (mode, trace and rate per link); None where the runtime does not emulate."""
        return None

    def cpu_status(self) -> dict[str, Any] | None:
        """Each node's CPU quota and whether it is enforced (and why not); None where nodes have no quotas."""
        return None

    async def close(self) -> None:
        """Release clients; deployed workloads keep running."""
        return None

    async def wait_ready(
        self,
        names: Sequence[str],
        timeout: float,
        *,
        interval: float = 0.3,
        progress: Callable[[list[InstanceStatus]], None] | None = None,
    ) -> list[InstanceStatus]:
        """Wait until every named workload is ready; on timeout raise with what is not ready and why."""
        wanted = set(names)
        deadline = time.monotonic() + timeout
        while True:
            statuses = [s for s in await self.status() if s.name in wanted]
            if progress is not None:
                progress(statuses)
            seen = {s.name for s in statuses}
            pending = [s for s in statuses if not s.ready]
            missing = sorted(wanted - seen)
            if not pending and not missing:
                return statuses
            failed = [s for s in pending if s.phase in ("exited", "failed")]
            if failed or time.monotonic() >= deadline:
                report = [NotReady(name=s.name, node=s.node, phase=s.phase, message=s.message) for s in pending]
                report += [NotReady(name=n, node=None, phase="missing", message="not deployed") for n in missing]
                why = "failed" if failed else f"not ready after {timeout:.0f}s"
                names_text = ", ".join(r.name for r in report)
                raise Unavailable(
                    f"workloads {why}: {names_text}", detail={"not_ready": [r.model_dump() for r in report]}
                )
            await asyncio.sleep(interval)
