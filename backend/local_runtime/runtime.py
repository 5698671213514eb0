"""The local runtime: every component of every virtual node as a local process on its own port.

``LocalRuntime(run_dir)`` keeps all its state under ``run_dir`` (topology, configs, logs, pid files),
so a later process (a restarted backend, ``python -m backend.local_runtime down``) can stop what an earlier
one started.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx

from backend.local_runtime.cgroups import NodeCpuLimits
from backend.local_runtime.links import LinkEmulation, LinkModeChoice, TraceClock
from backend.local_runtime.model import RuntimeSpec, VirtualNode, WorkloadDiff, same_deployment
from backend.local_runtime.ports import PortAllocator
from backend.local_runtime.processes import ProcessRecord, launched_with, log_tail, spawn, stop_all
from backend.local_runtime.sockets import socket_path
from backend.local_runtime.supervisor import Supervisor
from common.errors import Conflict, InvalidInput, Unavailable
from common.private import private_dir, write_private
from common.topology import Endpoint, LinkModel, NodeSpec, StaticTopology, TopologyModel
from common.workload import COMPONENT_MODULES, Workload

REPO_ROOT = Path(__file__).resolve().parents[2]


PORT_RETRIES = 3
"""Other ports tried for a workload whose port a process outside Dayu bound first, before the start fails."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel picks now; it may hand it out again at once. Workloads get theirs from
    :class:`backend.local_runtime.ports.PortAllocator`; this is for a caller's own short-lived server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def describe(
    nodes: Mapping[str, VirtualNode | Mapping[str, Any]],
    links: Sequence[LinkModel | Mapping[str, Any]],
    workloads: Sequence[Workload | Mapping[str, Any]],
    token: str | None,
    link_mode: LinkModeChoice = "process",
    host_ports: Sequence[int] = (),
) -> RuntimeSpec:
    """Validate a deployment description; a bad one is :class:`InvalidInput` saying what is wrong."""
    try:
        return RuntimeSpec.model_validate(
            {
                "nodes": dict(nodes),
                "links": list(links),
                "workloads": list(workloads),
                "token": token,
                "link_mode": link_mode,
                "host_ports": list(host_ports),
            }
        )
    except ValueError as exc:
        raise InvalidInput(f"invalid local runtime description: {exc}") from None


F = TypeVar("F", bound=Callable[..., Any])


def _locked(method: F) -> F:
    @functools.wraps(method)
    def wrapper(self: LocalRuntime, *args: Any, **kwargs: Any) -> Any:
        # Read before waiting for the lock: an interrupt made while this call waits counts against it too.
        ticket = self._generation
        with self._lock:
            outermost = self._ticket is None
            if outermost:
                self._ticket = ticket
            try:
                return method(self, *args, **kwargs)
            finally:
                if outermost:
                    self._ticket = None

    return cast(F, wrapper)


LAUNCH_SUFFIX = ".launching"
"""Suffix of a launch intent in the pid directory (the pid files themselves are ``<name>.json``)."""


def _log_size(log: Path) -> int:
    try:
        return log.stat().st_size
    except OSError:
        return 0


def _port_taken(log: Path, since: int) -> bool:
    """The process's log, from byte ``since`` (its launch: logs are appended to), says it could not bind its
    port (uvicorn's and Python's words for EADDRINUSE)."""
    try:
        with open(log, "rb") as f:
            f.seek(since)
            text = f.read(65536).decode(errors="replace")
    except OSError:
        return False
    return "address already in use" in text.lower()


def launch_order(workloads: list[Workload]) -> list[list[Workload]]:
    """Batches started one after the other, each healthy before the next: stage 1, then stage 2 without its
    generators, then the generators. A generator whose source starts at launch (a file) sends its first
    task at once; every processor and controller it may send to is listening by then, as on an install,
    where the sources are opened only once everything serves."""
    stage2 = [w for w in workloads if w.stage == 2]
    batches = [
        [w for w in workloads if w.stage == 1],
        [w for w in stage2 if w.component != "generator"],
        [w for w in stage2 if w.component == "generator"],
    ]
    return [b for b in batches if b]


class LocalRuntime:
    def __init__(
        self,
        run_dir: str | Path,
        *,
        host: str = "127.0.0.1",
        python: str | None = None,
        ports: PortAllocator | None = None,
    ) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.host = host
        self.ports = ports or PortAllocator(str(self.run_dir), host=host)
        self.python = python or sys.executable
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self.links = LinkEmulation(self.run_dir, host=host)
        self.cpu = NodeCpuLimits(self.run_dir)
        # One lock for start, apply, stop and the supervisor's restarts: a component being stopped on
        # purpose is never mistaken for one that crashed.
        self._lock = threading.RLock()
        # interrupt() bumps the generation; a start or apply that began in an earlier one gives up (see there).
        self._generation = 0
        self._generation_lock = threading.Lock()
        self._ticket: int | None = None  # the generation the call holding the lock began in
        self._extra_env: dict[str, str] = {}
        self.supervisor: Supervisor | None = None

    # -- supervision --------------------------------------------------------------------------
    def supervise(self, **options: Any) -> Supervisor:
        """Restart crashed components from now on (see :mod:`backend.local_runtime.supervisor`)."""
        if self.supervisor is None:
            self.supervisor = Supervisor(self.records, self._reap, self._restart, self._lock, **options)
        self.supervisor.start()
        return self.supervisor

    def close(self) -> None:
        """Stop supervising (the components keep running)."""
        if self.supervisor is not None:
            self.supervisor.stop()

    # -- interrupting a start -----------------------------------------------------------------
    def interrupt(self) -> None:
        """Make a :meth:`start` or :meth:`apply` running in another thread give up at its next step.

        It holds the lock while it waits for its components (up to its ``timeout`` per batch), so a caller
        that stopped wanting it (an uninstall, a backend shutting down, whose task awaiting that thread was
        cancelled) could neither stop it nor wait for it in reasonable time. The interrupted call stops what
        it started, as after any failed start, and raises :class:`Conflict` (code ``interrupted``); calls
        that begin after this one are not affected. Takes no lock: that is the point.
        """
        with self._generation_lock:
            self._generation += 1

    def _was_interrupted(self) -> bool:
        return self._ticket is not None and self._ticket != self._generation

    def _check_interrupted(self) -> None:
        if self._was_interrupted():
            raise Conflict(f"the start in {self.run_dir} was interrupted", code="interrupted")

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no start, apply or stop runs (at most ``timeout`` s); False when one still does."""
        if not self._lock.acquire(timeout=timeout):
            return False
        self._lock.release()
        return True

    def _reap(self) -> None:
        for pid, child in list(self._children.items()):
            if child.poll() is not None:
                del self._children[pid]

    def _restart(self, record: ProcessRecord) -> bool:
        spec = self._current_spec()
        workload = next((w for w in spec.workloads if w.name == record.name), None) if spec else None
        if spec is None or workload is None or record.port is None:
            return False
        self._launch(workload, record.port, token=spec.token, extra_env=self._extra_env, restarts=record.restarts + 1)
        return True

    # -- paths --------------------------------------------------------------------------------
    @property
    def pid_dir(self) -> Path:
        return self.run_dir / "pids"

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def topology_path(self) -> Path:
        return self.run_dir / "topology.json"

    def work_dir(self, node: str) -> Path:
        return self.run_dir / "nodes" / node / "work"

    @property
    def stopping_dir(self) -> Path:
        return self.pid_dir / "stopping"

    def records(self) -> list[ProcessRecord]:
        if not self.pid_dir.is_dir():
            return []
        found = (ProcessRecord.load(p) for p in sorted(self.pid_dir.glob("*.json")))
        return [r for r in found if r is not None]

    def _stopping_records(self) -> list[ProcessRecord]:
        found = (ProcessRecord.load(p) for p in sorted(self.stopping_dir.glob("*.json")))
        return [r for r in found if r is not None]

    def topology(self) -> StaticTopology:
        return StaticTopology.from_file(self.topology_path)

    # -- start --------------------------------------------------------------------------------
    @_locked
    def start(
        self,
        nodes: Mapping[str, VirtualNode | Mapping[str, Any]],
        links: Sequence[LinkModel | Mapping[str, Any]] = (),
        workloads: Sequence[Workload | Mapping[str, Any]] = (),
        *,
        timeout: float = 60.0,
        token: str | None = None,
        env: Mapping[str, str] | None = None,
        link_mode: LinkModeChoice = "process",
        host_ports: Sequence[int] = (),
        trace_clock: TraceClock = "install",
    ) -> StaticTopology:
        """Start every workload (install stage 1, healthy, then stage 2, healthy, its generators last) and return
        the topology.

        On any failure everything started is stopped again and :class:`Unavailable` says which component
        failed, with the end of its log. ``trace_clock="held"``: link traces wait for :meth:`start_traces`.
        """
        spec = describe(nodes, links, workloads, token, link_mode, host_ports)
        self._extra_env = dict(env or {})
        running = [r.name for r in self.records() if r.alive()]
        if running:
            raise Conflict(f"the local runtime in {self.run_dir} is already running: {', '.join(running)}")
        stop_all(self._interrupted_launches(None, set()), timeout=5.0)  # before their intents are wiped
        self._reset_state()
        self.ports.release()  # nothing of this run dir runs: what it reserved before is free again
        ports = self._assign_ports(spec)
        write_private(self.run_dir / "runtime.json", spec.model_dump_json(indent=2))
        try:
            self.links.setup(list(spec.nodes), spec.links, spec.link_mode, spec.host_ports, trace_clock)
            self.cpu.setup({name: node.cpu_quota for name, node in spec.nodes.items()})
            self._topology(spec, ports).dump(self.topology_path)
            for batch in launch_order(spec.workloads):
                self._start_batch(spec, batch, ports, env or {}, timeout)
        except BaseException:
            self.stop(timeout=5.0)
            raise
        return self.topology()

    @_locked
    def apply(
        self,
        nodes: Mapping[str, VirtualNode | Mapping[str, Any]],
        links: Sequence[LinkModel | Mapping[str, Any]] = (),
        workloads: Sequence[Workload | Mapping[str, Any]] = (),
        *,
        timeout: float = 60.0,
        token: str | None = None,
        env: Mapping[str, str] | None = None,
        link_mode: LinkModeChoice = "process",
        host_ports: Sequence[int] = (),
    ) -> StaticTopology:
        """Bring the running deployment to ``workloads`` while touching only what changed.

        Removed workloads stop, new ones start, changed ones restart on their old port; the topology
        file is rewritten first, and running components follow it (``WatchedTopology``). When nothing
        runs, or the nodes, links or token differ, this is a full :meth:`start`.
        """
        spec = describe(nodes, links, workloads, token, link_mode, host_ports)
        self._extra_env = dict(env or {})
        current = self._current_spec()
        alive = {r.name for r in self.records() if r.alive()}
        if current is None or not alive or not same_deployment(current, spec):
            self.stop(timeout=10.0)
            return self.start(
                spec.nodes,
                spec.links,
                spec.workloads,
                timeout=timeout,
                token=spec.token,
                env=env,
                link_mode=spec.link_mode,
                host_ports=spec.host_ports,
            )
        diff = WorkloadDiff.of(current, spec, alive)
        old_ports = {r.name: r.port for r in self.records() if r.port is not None}
        if diff.gone or diff.changed:
            self.stop(timeout=10.0, names=[*diff.gone, *diff.changed])
        ports = self._reassign_ports(spec, old_ports, diff.added)
        self._topology(spec, ports).dump(self.topology_path)
        write_private(self.run_dir / "runtime.json", spec.model_dump_json(indent=2))
        self._start_fresh(spec, diff.fresh, ports, env or {}, timeout)
        return self.topology()

    def _reassign_ports(self, spec: RuntimeSpec, old_ports: Mapping[str, int], added: Sequence[str]) -> dict[str, int]:
        """Each workload's own port, else the one it ran on (a workload that stays or restarts keeps its
        port), else one from the allocator; the ports in use are kept in the ledger."""
        ports: dict[str, int] = {}
        for w in spec.workloads:
            kept = old_ports.get(w.name) if w.name not in added else None
            if w.port or kept:
                ports[w.name] = w.port or kept or 0
        self._check_fixed(ports)
        new = [w.name for w in spec.workloads if w.name not in ports]
        ports.update(zip(new, self.ports.allocate(len(new), exclude=[*ports.values(), *spec.host_ports]), strict=True))
        self.ports.keep(ports.values())
        return ports

    def _start_fresh(
        self, spec: RuntimeSpec, fresh: set[str], ports: dict[str, int], env: Mapping[str, str], timeout: float
    ) -> None:
        """Start the ``fresh`` workloads, stage by stage; if one fails to come up, the fresh ones are stopped
        again and what was running before keeps running."""
        try:
            for stage in (1, 2):
                batch = [w for w in spec.workloads if w.stage == stage and w.name in fresh]
                if batch:
                    self._start_batch(spec, batch, ports, env, timeout)
        except BaseException:
            self.stop(timeout=5.0, names=fresh)
            raise

    @_locked
    def start_traces(self, at: float | None = None) -> float:
        """Start the replay of held link traces now (or at wall-clock ``at``); running components follow the
        rewritten topology file. Returns the start time."""
        start = self.links.start_traces(at)
        topology = self.topology()
        spec = self._current_spec()
        links = self.links.topology_links(spec.links if spec is not None else [])
        StaticTopology(topology.model.model_copy(update={"links": links})).dump(self.topology_path)
        return start

    def _current_spec(self) -> RuntimeSpec | None:
        path = self.run_dir / "runtime.json"
        try:
            return RuntimeSpec.model_validate_json(path.read_text())
        except (OSError, ValueError):
            return None

    def start_spec(self, spec: RuntimeSpec, *, timeout: float = 60.0) -> StaticTopology:
        return self.start(
            spec.nodes,
            spec.links,
            spec.workloads,
            timeout=timeout,
            token=spec.token,
            link_mode=spec.link_mode,
            host_ports=spec.host_ports,
        )

    def _reset_state(self) -> None:
        for sub in ("pids", "config"):
            shutil.rmtree(self.run_dir / sub, ignore_errors=True)
        private_dir(self.run_dir)

    def _assign_ports(self, spec: RuntimeSpec) -> dict[str, int]:
        """The workloads' own ports, then one from the allocator for each of the rest (none is ever handed
        out twice, nor one a workload named, nor a host port)."""
        ports = {w.name: w.port for w in spec.workloads if w.port}
        self._check_fixed(ports)
        auto = [w.name for w in spec.workloads if not w.port]
        given = self.ports.allocate(len(auto), exclude=[*ports.values(), *spec.host_ports])
        ports.update(zip(auto, given, strict=True))
        return ports

    @staticmethod
    def _check_fixed(ports: Mapping[str, int]) -> None:
        seen: dict[int, str] = {}
        for name, port in ports.items():
            if port in seen:
                raise InvalidInput(f"port {port} of workload {name!r} is used by workload {seen[port]!r}")
            seen[port] = name

    def _start_batch(
        self, spec: RuntimeSpec, batch: list[Workload], ports: dict[str, int], env: Mapping[str, str], timeout: float
    ) -> None:
        """Launch ``batch`` and wait until each answers. A workload whose given port a process outside Dayu
        bound first (it exits saying the address is in use) gets another port from the allocator and is
        launched again, up to :data:`PORT_RETRIES` times; the topology file follows."""
        logs = {w.name: _log_size(self.log_dir / f"{w.name}.log") for w in batch}
        for w in batch:
            self._check_interrupted()
            self._launch(w, ports[w.name], token=spec.token, extra_env=env)
        tries: dict[str, list[int]] = {}
        by_name = {w.name: w for w in batch}
        while True:
            try:
                self.wait_healthy(list(by_name), timeout=timeout, interrupted=self._was_interrupted)
                self._check_interrupted()
                return
            except Unavailable as exc:
                name = exc.detail.get("workload") if isinstance(exc.detail, dict) else None
                failed = by_name.get(name) if isinstance(name, str) else None
                if failed is None or failed.port:
                    raise
                w = failed
                if not _port_taken(self.log_dir / f"{w.name}.log", logs[w.name]):
                    raise
                tried = tries.setdefault(w.name, [])
                tried.append(ports[w.name])
                if len(tried) > PORT_RETRIES:
                    raise Unavailable(
                        f"workload {w.name!r} could not listen: ports {', '.join(map(str, tried))} were each "
                        "bound by another process before it started",
                        detail={"workload": w.name, "ports": tried},
                    ) from None
                self.stop(timeout=5.0, names=[w.name])
                ports[w.name] = self.ports.replace(ports[w.name], exclude=[*ports.values(), *spec.host_ports])
                self._topology(spec, ports).dump(self.topology_path)
                logs[w.name] = _log_size(self.log_dir / f"{w.name}.log")
                self._launch(w, ports[w.name], token=spec.token, extra_env=env)

    def _topology(self, spec: RuntimeSpec, ports: Mapping[str, int]) -> StaticTopology:
        specs = {
            name: NodeSpec(role=node.role, arch=node.arch, labels=node.labels, work_dir=str(self.work_dir(name)))
            for name, node in spec.nodes.items()
        }
        for w in spec.workloads:
            sock = socket_path(self.run_dir, w)
            endpoint = Endpoint(host=self.links.address(w.node), port=ports[w.name], socket=str(sock) if sock else None)
            target = specs[w.node].processors if w.component == "processor" else specs[w.node].components
            target[w.topology_key()] = endpoint
        mode = "netns" if self.links.mode() == "netns" else "process"
        return StaticTopology(
            TopologyModel(
                nodes=specs,
                links=self.links.topology_links(spec.links),
                link_mode=mode,
                link_state_dir=str(self.links.bookings_dir) if mode == "process" else None,
            )
        )

    def _launch(
        self, w: Workload, port: int, *, token: str | None, extra_env: Mapping[str, str], restarts: int = 0
    ) -> None:
        work_dir = self.work_dir(w.node)
        work_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.run_dir / "config" / f"{w.name}.json"
        private_dir(config_path.parent)
        write_private(config_path, json.dumps(w.config, indent=2))
        env = dict(os.environ)
        env.update(extra_env)
        env.update(
            {
                "DAYU_HOST": self.links.address(w.node),
                "DAYU_PORT": str(port),
                "DAYU_NODE": w.node,
                "DAYU_TOPOLOGY": str(self.topology_path),
                "DAYU_WORK_DIR": str(work_dir),
                "DAYU_CONFIG": str(config_path),
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.cpu.env(w.node))
        sock = socket_path(self.run_dir, w)
        env.pop("DAYU_UDS", None)  # never one inherited from the runtime's own environment
        if sock is not None:
            env["DAYU_UDS"] = str(sock)
        if w.service:
            env["DAYU_SERVICE"] = w.service
        if w.source_id:
            env["DAYU_SOURCE_ID"] = w.source_id
        if token:
            env["DAYU_TOKEN"] = token
        env.update(w.env)
        command = self.links.command(w.node, w.command or [self.python, "-m", COMPONENT_MODULES[w.component]])
        command = self.cpu.command(w.node, command)  # outermost: the whole chain runs under the node's quota
        # Written before the process exists and removed once its pid file is saved: a supervisor killed in
        # between (kill -9 of the backend) leaves the intent, and the next stop finds the process by it.
        intent = self.pid_dir / f"{w.name}{LAUNCH_SUFFIX}"
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        intent.write_text(json.dumps({"config": str(config_path), "at": time.time()}))
        proc, record = spawn(
            w.name,
            command,
            env=env,
            cwd=REPO_ROOT,
            log_path=self.log_dir / f"{w.name}.log",
            port=port,
            node=w.node,
            component=w.component,
        )
        self._children[proc.pid] = proc
        record.restarts = restarts
        record.save(self.pid_dir)
        intent.unlink(missing_ok=True)

    # -- health -------------------------------------------------------------------------------
    def wait_healthy(
        self,
        names: Iterable[str] | None = None,
        *,
        timeout: float = 60.0,
        interrupted: Callable[[], bool] | None = None,
    ) -> None:
        """Wait until each named component (default: all) answers ``/health``; a dead one fails at once.

        ``interrupted``: asked between looks; True ends the wait at once (the caller says why)."""
        wanted = set(names) if names is not None else None
        records = [r for r in self.records() if wanted is None or r.name in wanted]
        pending = {r.name: r for r in records if r.port is not None}
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0, trust_env=False) as client:
            while pending:
                for name, record in list(pending.items()):
                    if interrupted is not None and interrupted():
                        return
                    if not record.alive():
                        raise Unavailable(
                            f"{name} exited during start-up; end of {record.log}:\n{log_tail(record.log)}",
                            detail={"workload": name},
                        )
                    try:
                        if client.get(f"{self._base(record)}/health").status_code == 200:
                            del pending[name]
                    except httpx.HTTPError:
                        pass
                if not pending:
                    break
                if time.monotonic() > deadline:
                    raise Unavailable(
                        f"not healthy after {timeout:g}s: {', '.join(sorted(pending))}",
                        detail={"workloads": sorted(pending)},
                    )
                time.sleep(0.1)

    # -- stop and status ----------------------------------------------------------------------
    @_locked
    def stop(self, timeout: float = 10.0, names: Iterable[str] | None = None) -> dict[str, str]:
        """SIGTERM each component's process group, SIGKILL after ``timeout``; pid files go away.

        The pid files move aside first, so a supervisor (of this or another process) no longer sees the
        components and does not take their exit for a crash; a stop cut short finishes on the next one.
        """
        wanted = set(names) if names is not None else None
        records = [r for r in self.records() if wanted is None or r.name in wanted]
        if records:
            self.stopping_dir.mkdir(parents=True, exist_ok=True)
            for record in records:
                with contextlib.suppress(FileNotFoundError):
                    os.replace(self.pid_dir / f"{record.name}.json", self.stopping_dir / f"{record.name}.json")
        records += [r for r in self._stopping_records() if r.name not in {x.name for x in records}]
        records += self._interrupted_launches(wanted, {r.pid for r in records})
        outcome = stop_all(records, timeout=timeout, children=self._children)
        for record in records:
            (self.stopping_dir / f"{record.name}.json").unlink(missing_ok=True)
            self._children.pop(record.pid, None)
        if wanted is None:
            self.links.teardown()
            self.cpu.teardown()
            self.ports.release()
        return outcome

    def _interrupted_launches(self, wanted: set[str] | None, known: set[int]) -> list[ProcessRecord]:
        """Processes started by a launch whose pid file was never saved (the launching process died in
        between), found by the exact config path that launch gave them; their intents are removed."""
        if not self.pid_dir.is_dir():
            return []
        found: list[ProcessRecord] = []
        for path in sorted(self.pid_dir.glob(f"*{LAUNCH_SUFFIX}")):
            name = path.name[: -len(LAUNCH_SUFFIX)]
            if wanted is not None and name not in wanted:
                continue
            try:
                intent = json.loads(path.read_text())
                config, since = str(intent["config"]), float(intent["at"])
            except (OSError, ValueError, KeyError, TypeError):
                config, since = "", 0.0  # unreadable: nothing can be matched to it, so it only goes away
            found += [r for r in launched_with(name, config, since) if r.pid not in known]
            path.unlink(missing_ok=True)
        return found

    def _base(self, record: ProcessRecord) -> str:
        return f"http://{self.links.address(record.node)}:{record.port}"

    def link_status(self) -> dict[str, Any]:
        """Which link mode ran (and why, after a fallback), and each link's trace and current rate."""
        spec = self._current_spec()
        return self.links.describe(spec.links if spec is not None else [])

    def cpu_status(self) -> dict[str, Any]:
        """Each node's CPU quota and whether cgroups enforce it (and why not, where they cannot)."""
        return self.cpu.describe()

    def status(self, *, probe: bool = True) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        with httpx.Client(timeout=1.0, trust_env=False) as client:
            for record in self.records():
                alive = record.alive()
                healthy = False
                if alive and probe and record.port is not None:
                    try:
                        healthy = client.get(f"{self._base(record)}/health").status_code == 200
                    except httpx.HTTPError:
                        healthy = False
                out[record.name] = {
                    "component": record.component,
                    "node": record.node,
                    "pid": record.pid,
                    "port": record.port,
                    "alive": alive,
                    "healthy": healthy,
                    "restarts": record.restarts,
                    "log": record.log,
                }
        return out

    def url(self, name: str) -> str:
        for record in self.records():
            if record.name == name:
                return self._base(record)
        raise InvalidInput(f"no workload named {name!r} in {self.run_dir}")
