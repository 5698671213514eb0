"""The local deployer: every virtual node's workloads as processes of the local runtime (backend.local_runtime).

Each change (the second install stage, a redeployment) is applied incrementally:
only the workloads that were added, removed or changed start or stop; the others keep running and
follow the rewritten topology file.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

from backend.deploy.base import Deployer, InstanceStatus
from backend.templates import LocalSettings
from common.errors import ConfigError
from common.topology import LinkModel, NodeSpec, Topology, TopologyFile
from common.trace import TRACE_DIR, resolve_trace
from common.workload import Workload

START_TIMEOUT_S = 90.0
CLOSE_TIMEOUT_S = 30.0
"""How long a backend shutting down waits for an interrupted start to stop what it had started."""
log = logging.getLogger(__name__)


class LocalDeployer(Deployer):
    kind = "local"
    follows_traces = True

    def __init__(
        self,
        run_dir: Path,
        local: LocalSettings,
        *,
        token: str | None = None,
        host_ports: Sequence[int] = (),
        trace_dir: Path = TRACE_DIR,
    ) -> None:
        from backend.local_runtime.runtime import LocalRuntime

        self.run_dir = Path(run_dir)
        self.trace_dir = trace_dir  # the installed template's traces: what an install names a trace by
        self.local = local
        self.token = token
        self.host_ports = list(host_ports)  # the datasource's: nodes in namespaces reach it at their loopback
        self._nodes = {
            name: NodeSpec(role=spec.role, arch=spec.arch, labels=spec.labels) for name, spec in local.nodes.items()
        }
        self.runtime = LocalRuntime(self.run_dir)
        self._workloads: dict[str, Workload] = self._recover()
        self.runtime.supervise()  # crashed components come back, also those a previous backend started
        self._procs: dict[int, psutil.Process] = {}  # kept so cpu_percent measures since the previous call
        self._trace: tuple[str, str] | None = None
        self._topology_file = TopologyFile(self.runtime.topology_path)

    def _recover(self) -> dict[str, Workload]:
        """After a backend restart: the workloads of the deployment that is still running."""
        path = self.run_dir / "runtime.json"
        if not path.is_file() or not any(r.alive() for r in self.runtime.records()):
            return {}
        try:
            spec = json.loads(path.read_text())
            return {w["name"]: Workload.model_validate(w) for w in spec.get("workloads", [])}
        except (OSError, ValueError):
            return {}

    def nodes(self) -> dict[str, NodeSpec]:
        return dict(self._nodes)

    def _apply(self) -> None:
        if not self._workloads:
            self.runtime.stop()
            return
        nodes = {
            n: {"role": s.role, "arch": s.arch, "labels": s.labels, "cpu_quota": self.local.nodes[n].cpu_quota}
            for n, s in self._nodes.items()
        }
        self.runtime.apply(
            nodes,
            self._links(),
            list(self._workloads.values()),
            timeout=START_TIMEOUT_S,
            token=self.token,
            link_mode=self.local.link_mode,
            host_ports=self.host_ports,
        )

    def _links(self) -> list[LinkModel]:
        """The template's links, those to the cloud following the install's trace when it names one."""
        if self._trace is None:
            return list(self.local.links)
        trace, mode = self._trace
        cloud = next(name for name, spec in self._nodes.items() if spec.role == "cloud")
        links = []
        for link in self.local.links:
            if cloud in (link.a, link.b):
                link = link.model_copy(update={"trace": trace, "trace_mode": mode})
            links.append(link)
        return links

    def use_trace(self, trace: str | None, mode: str = "loop") -> None:
        if trace is None:
            self._trace = None
            return
        path = resolve_trace(trace, search=self.trace_dir)  # an unknown trace is refused before anything starts
        # The link helpers resolve a bare name against the project's own traces: where the installed
        # template's file differs from the project's of that name, they are handed the file itself.
        self._trace = (trace if _same_file_as_shipped(trace, path) else str(path), mode)

    def link_status(self) -> dict[str, Any] | None:
        return self.runtime.link_status()

    def cpu_status(self) -> dict[str, Any] | None:
        return self.runtime.cpu_status()

    async def apply(self, workloads: Sequence[Workload]) -> None:
        for w in workloads:
            self._workloads[w.name] = w
        await asyncio.to_thread(self._apply)

    async def remove(self, names: Sequence[str]) -> None:
        for name in names:
            self._workloads.pop(name, None)
        await asyncio.to_thread(self._apply)

    async def remove_all(self) -> None:
        self._workloads.clear()
        # Every caller holds the installer's lock, so a start or apply still running now belongs to an install
        # whose task was cancelled (an uninstall, a backend shutting down): it gives up, then everything stops.
        self.runtime.interrupt()
        await asyncio.to_thread(self.runtime.stop)

    async def status(self) -> list[InstanceStatus]:
        raw = await asyncio.to_thread(self.runtime.status)
        live = {int(item["pid"]) for item in raw.values() if "pid" in item}
        self._procs = {pid: proc for pid, proc in self._procs.items() if pid in live}
        return [self._instance(name, item) for name, item in raw.items()]

    def _instance(self, name: str, item: dict[str, Any]) -> InstanceStatus:
        workload = self._workloads.get(name)
        started = cpu = memory = None
        try:
            pid = int(item["pid"])
            proc = self._procs.get(pid) or self._procs.setdefault(pid, psutil.Process(pid))
            with proc.oneshot():
                started = proc.create_time()
                cpu = proc.cpu_percent(interval=None) / 100.0
                memory = proc.memory_info().rss / 2**20
        except (psutil.Error, KeyError, ValueError):
            pass
        alive, healthy = bool(item.get("alive")), bool(item.get("healthy"))
        return InstanceStatus(
            name=name,
            component=str(item.get("component")),
            node=str(item.get("node")),
            service=workload.service if workload else None,
            source_id=workload.source_id if workload else None,
            ready=alive and healthy,
            phase="running" if healthy else ("starting" if alive else "exited"),
            started_at=started,
            cpu=cpu,
            memory_mb=None if memory is None else round(memory, 1),
            message="" if alive else f"exited; log: {item.get('log')}",
            restarts=int(item.get("restarts", 0)),
        )

    async def close(self) -> None:
        """Supervision ends with the backend; a deployed install keeps running (a restarted backend takes it
        over, ``dayu.sh`` stop or ``python -m backend.local_runtime down`` ends it by its pid files).

        A start or apply still running in a thread (its install or redeployment task was cancelled) is
        interrupted and waited for: it stops what it had started, and nothing is launched once the backend is
        gone. The installer has already removed an unfinished install (:meth:`Installer.close`)."""
        self.runtime.interrupt()
        if not await asyncio.to_thread(self.runtime.wait_idle, CLOSE_TIMEOUT_S):
            log.warning("the local runtime in %s was still busy %.0fs into the shutdown", self.run_dir, CLOSE_TIMEOUT_S)
        self.runtime.close()

    def topology(self) -> Topology | None:
        return self._topology_file.read() if self._workloads else None


def _same_file_as_shipped(trace: str, path: Path) -> bool:
    try:
        shipped = resolve_trace(trace)
    except ConfigError:
        return False
    return shipped == path or shipped.read_bytes() == path.read_bytes()
