"""Install, uninstall and periodic redeployment, serialised by one lock.

Install runs in the background (the API answers at once; the state says how far it got):
stage 1 (scheduler, distributor, monitors) -> healthy -> ask the scheduler where sources go and which
services run where -> stage 2 (controllers, processors, generators) -> healthy. Any failure removes
what was deployed and leaves a failure report in the state. The generators are installed closed: opening
the datasource starts their reading and closing stops it. Uninstall and redeployment take the same
lock, so an uninstall waits for a redeployment in progress (and vice versa).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from typing import Any

from backend.datasource_config import DatasourceConfig
from backend.deploy.base import Deployer, InstanceStatus
from backend.planner import (
    InstallRequest,
    Planner,
    ResolvedSource,
    complete_deployment,
    dns_name,
    resolve_dag,
    services_of,
)
from backend.store import Store
from backend.templates import Template
from common.errors import Conflict, DayuError, InvalidInput, NotFound, Unavailable
from common.transport import ServiceClient
from common.workload import Workload

log = logging.getLogger(__name__)
STATE_KEY = "install"
GENERATOR_TIMEOUT_S = 30.0
"""Bound of one call to a generator's ``/source/open`` or ``/source/close``."""


class Installer:
    def __init__(
        self,
        template: Template,
        store: Store,
        deployer: Deployer,
        client: ServiceClient,
        *,
        token: str | None,
        datasource_url: str | None,
    ) -> None:
        self.template = template
        self.store = store
        self.deployer = deployer
        self.client = client
        self.token = token
        self.datasource_url = datasource_url
        self.lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._redeploy_task: asyncio.Task[None] | None = None

    # -- state -------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        state = self.store.get_state(STATE_KEY)
        return state if isinstance(state, dict) else {"phase": "uninstalled"}

    def _save(self, **changes: Any) -> dict[str, Any]:
        state = {**self.state(), **changes, "updated": time.time()}
        self.store.set_state(STATE_KEY, state)
        return state

    def installed(self) -> bool:
        return self.state().get("phase") == "installed"

    def planner(self) -> Planner:
        return Planner(
            self.template, self.deployer.nodes(), self.token, container_ports=self.deployer.kind == "kubernetes"
        )

    # -- validation (synchronous, before anything is deployed) ------------------------------------
    def resolve(self, req: InstallRequest) -> tuple[str, DatasourceConfig, list[ResolvedSource]]:
        policy = req.policy or self.template.base.defaults.policy
        if policy not in self.template.policies:
            known = ", ".join(sorted(self.template.policies))
            raise InvalidInput(f"unknown policy {policy!r}; known: {known}", detail={"policy": policy})
        record = self.store.get_datasource(req.datasource)
        datasource = DatasourceConfig.model_validate(record["config"])
        nodes = self.deployer.nodes()
        listed = {s.source_id: s for s in req.sources}
        for sid in listed:
            datasource.source(sid)  # raises naming the unknown source
        if len(listed) != len(req.sources):
            raise InvalidInput("a source is listed twice in `sources`")
        resolved: list[ResolvedSource] = []
        for entry in datasource.sources:
            choice = listed.get(entry.id)
            dag_name = choice.dag if choice else req.dag
            if dag_name is None:
                continue
            try:
                spec = self.store.get_dag(dag_name)
            except NotFound:
                raise InvalidInput(
                    f"source {entry.id!r}: no DAG named {dag_name!r}", detail={"dag": dag_name}
                ) from None
            dag = resolve_dag(self.template, spec)
            chosen = list(choice.nodes) if choice and choice.nodes else sorted(nodes)
            unknown = [n for n in chosen if n not in nodes]
            if unknown:
                raise InvalidInput(f"source {entry.id!r}: unknown nodes {unknown}; known: {sorted(nodes)}")
            edges = [n for n in nodes if nodes[n].role == "edge"]
            attach = [n for n in (entry.node_candidates or edges) if n in nodes and nodes[n].role == "edge"]
            if not attach:
                raise InvalidInput(
                    f"source {entry.id!r}: none of its node candidates {entry.node_candidates} is an edge node here; "
                    f"edge nodes found: {sorted(edges)}",
                    detail={"source": entry.id, "node_candidates": entry.node_candidates, "edge_nodes": sorted(edges)},
                )
            resolved.append(
                ResolvedSource(entry=entry, dag_name=dag_name, dag=dag, spec=spec, nodes=chosen, attach=attach)
            )
        if not resolved:
            raise InvalidInput("nothing to install: give `dag` or at least one entry in `sources`")
        return policy, datasource, resolved

    # -- install -----------------------------------------------------------------------------
    def start_install(self, req: InstallRequest) -> dict[str, Any]:
        if self.lock.locked() or self.state().get("phase") in ("installing", "installed", "uninstalling"):
            raise Conflict(f"cannot install: the state is {self.state().get('phase')!r}; uninstall first")
        policy, datasource, sources = self.resolve(req)
        self.deployer.use_trace(req.trace, req.trace_mode)
        state = {
            "phase": "installing",
            "step": "validated",
            "policy": policy,
            "datasource": datasource.name,
            "request": req.model_dump(mode="json"),
            "sources": [{"source_id": s.entry.id, "dag": s.dag_name, "nodes": s.nodes} for s in sources],
            "started": time.time(),
            "error": None,
            "progress": [],
        }
        self.store.set_state(STATE_KEY, state)
        self._task = asyncio.create_task(self._install(policy, datasource, sources))
        return state

    def _progress(self, step: str, message: str) -> None:
        state = self.state()
        entries = [*state.get("progress", []), {"at": time.time(), "step": step, "message": message}][-50:]
        self._save(step=step, progress=entries)

    async def _install(self, policy_id: str, datasource: DatasourceConfig, sources: list[ResolvedSource]) -> None:
        timeout = self.template.base.install.stage_timeout_s
        policy = self.template.policies[policy_id]
        async with self.lock:
            try:
                planner = self.planner()
                run_id = f"run-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
                self._save(run_id=run_id)
                stage1 = planner.stage1(policy, run_id=run_id)
                self._progress("stage1", f"deploying {', '.join(w.name for w in stage1)}")
                await self.deployer.apply(stage1)
                await self._wait(stage1, timeout, "stage1")
                scheduler = self._url("scheduler")
                placement = await self._placement(scheduler, sources)
                deployment = await self._deployment(scheduler, sources, planner.cloud())
                urls = {s.entry.id: self._stream_url(s) for s in sources}
                # Generators come up closed (autostart off): they read nothing until the datasource is opened.
                stage2 = planner.stage2(policy, sources, placement, deployment, urls)
                self._progress("stage2", f"deploying {', '.join(w.name for w in stage2)}")
                await self.deployer.apply(stage2)
                await self._wait(stage2, timeout, "stage2")
                self._save(
                    phase="installed",
                    step="done",
                    placement=placement,
                    deployment=deployment,
                    workloads=[w.model_dump(mode="json") for w in [*stage1, *stage2]],
                    installed_at=time.time(),
                )
                self._progress("done", "installed")
            except Exception as exc:  # any failure: report it and leave nothing half-deployed
                error = exc.to_dict()["error"] if isinstance(exc, DayuError) else {"message": repr(exc)}
                log.warning("install failed: %s", error.get("message"))
                with contextlib.suppress(Exception):
                    await self.deployer.remove_all()
                self._save(phase="failed", step="failed", error=error)

    async def _wait(self, workloads: list[Workload], timeout: float, step: str) -> None:
        def report(statuses: list[InstanceStatus]) -> None:
            ready = sum(1 for s in statuses if s.ready)
            self._save(step=step, ready=f"{ready}/{len(workloads)}")

        await self.deployer.wait_ready([w.name for w in workloads], timeout, progress=report)

    def _url(self, component: str) -> str:
        topology = self.deployer.topology()
        if topology is None:
            raise Unavailable("the runtime has no topology yet")
        return topology.component_url(component)

    def _stream_url(self, src: ResolvedSource) -> str:
        entry = src.entry
        if entry.url:
            return entry.url
        if entry.mode not in ("http", "rtsp"):
            return ""  # files and cameras are read directly by the generator
        if not self.datasource_url:
            raise Unavailable(f"source {entry.id!r} needs the datasource service, but its URL is not configured")
        if entry.mode == "rtsp":
            return ""  # the datasource reports the RTSP URL when it opens the stream; set_open passes it on
        return f"{self.datasource_url.rstrip('/')}/streams/{entry.id}"

    async def _placement(self, scheduler: str, sources: list[ResolvedSource]) -> dict[str, str]:
        body = {"sources": [{"source_id": s.entry.id, "candidates": s.attach} for s in sources]}
        answer = await self.client.post_json(f"{scheduler}/source-selection", body, idempotent=True)
        placement = dict(answer.get("placement", {})) if isinstance(answer, dict) else {}
        for s in sources:
            if placement.get(s.entry.id) not in s.attach:
                placement[s.entry.id] = s.attach[0]
        return placement

    async def _deployment(self, scheduler: str, sources: list[ResolvedSource], cloud: str) -> dict[str, list[str]]:
        nodes = sorted({n for s in sources for n in s.nodes})
        body = {"services": services_of(sources), "nodes": nodes}
        answer = await self.client.post_json(f"{scheduler}/deployment", body, idempotent=True)
        raw = answer.get("deployment", {}) if isinstance(answer, dict) else {}
        known = set(self.deployer.nodes())
        cleaned = {svc: [n for n in ns if n in known] for svc, ns in raw.items() if svc in body["services"]}
        return complete_deployment(cleaned, sources, cloud)

    # -- open / close ---------------------------------------------------------------------------
    async def set_open(self, opened: bool, sources: list[str]) -> None:
        """Open: the datasource serves each simulated stream, then its generator starts reading it (an RTSP
        camera's generator is given the URL the datasource reported). A failure closes what this call opened.
        Close: each generator stops reading (its tasks in flight still end as results or drops), then its
        stream is closed; a component that does not answer is logged and the others are still closed."""
        async with self.lock:
            state = self.state()
            config = DatasourceConfig.model_validate(self.store.get_datasource(state["datasource"])["config"])
            placement: dict[str, str] = state.get("placement", {})
            if not opened:
                # Side by side: each generator may wait for its segments in flight.
                await asyncio.gather(*(self._close_source(config, placement, sid) for sid in sources))
                return
            done: list[str] = []
            try:
                for sid in sources:
                    answer = await self._datasource(config, sid, "open")
                    done.append(sid)
                    params: dict[str, Any] = {}
                    if config.source(sid).mode == "rtsp" and answer is not None:
                        params["url"] = self._rtsp_url(sid, answer)
                    await self._generator(placement, sid, "open", {"params": params})
            except DayuError:
                for sid in reversed(done):
                    await self._close_source(config, placement, sid)
                raise

    async def _close_source(self, config: DatasourceConfig, placement: dict[str, str], source_id: str) -> None:
        try:
            await self._generator(placement, source_id, "close", {})
        except DayuError as exc:
            log.warning("closing the generator of %s failed: %s", source_id, exc.message)
        await self._datasource(config, source_id, "close")

    def _generator_url(self, placement: dict[str, str], source_id: str) -> str:
        topology = self.deployer.topology()
        node = placement.get(source_id)
        if topology is None or node is None:
            raise Unavailable(f"the generator of {source_id!r} is not deployed", detail={"source": source_id})
        components = topology.node(node).components
        # The local runtime keys generators by source id, a cluster by the (DNS-safe) workload name.
        for key in (f"generator/{source_id}", f"generator/{dns_name(source_id)}"):
            if key in components:
                return components[key].url
        raise Unavailable(
            f"node {node!r} runs no generator for {source_id!r}", detail={"source": source_id, "node": node}
        )

    async def _generator(self, placement: dict[str, str], source_id: str, action: str, body: dict[str, Any]) -> None:
        url = f"{self._generator_url(placement, source_id)}/source/{action}"
        # Opening may connect to a camera, closing waits for the segments in flight: both take a while.
        await self.client.post_json(url, body, idempotent=True, timeout=GENERATOR_TIMEOUT_S)

    async def _datasource(self, config: DatasourceConfig, source_id: str, action: str) -> dict[str, Any] | None:
        """Open or close a simulated camera; the datasource's answer (``GET /streams/{id}``), None when it
        was not asked."""
        entry = config.source(source_id)
        if entry.dataset is None or entry.url is not None or entry.mode not in ("http", "rtsp"):
            return None  # a real stream or a file: nothing to switch
        if not self.datasource_url:
            raise Unavailable(f"source {source_id!r} needs the datasource service, but its URL is not configured")
        url = f"{self.datasource_url.rstrip('/')}/streams/{source_id}/{action}"
        body = {"dataset": entry.dataset, "mode": entry.mode} if action == "open" else {}
        try:
            answer = await self.client.post_json(url, body, idempotent=True)
        except DayuError as exc:
            if action == "open":
                raise
            log.warning("closing %s at the datasource failed: %s", source_id, exc.message)
            return None
        return answer if isinstance(answer, dict) else {}

    @staticmethod
    def _rtsp_url(source_id: str, answer: dict[str, Any]) -> str:
        url = answer.get("rtsp_url")
        if not isinstance(url, str) or not url.startswith(("rtsp://", "rtsps://")):
            raise Unavailable(
                f"the datasource opened {source_id!r} but reported no RTSP URL (rtsp_url: {url!r})",
                detail={"source": source_id},
            )
        return url

    # -- uninstall ------------------------------------------------------------------------------
    async def uninstall(self, timeout: float = 120.0) -> dict[str, Any]:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        try:
            await asyncio.wait_for(self.lock.acquire(), timeout)
        except TimeoutError:
            raise Unavailable(f"a redeployment still holds the lock after {timeout:.0f}s") from None
        try:
            self._save(phase="uninstalling", step="removing")
            await self.deployer.remove_all()
            self.store.set_state(STATE_KEY, None)
            self.store.set_state("query", None)
            return self.state()
        finally:
            self.lock.release()

    # -- redeployment ----------------------------------------------------------------------------
    async def redeploy_once(self) -> dict[str, Any]:
        """Ask the scheduler for a deployment, diff it with the current processors, apply, wait."""
        async with self.lock:
            state = self.state()
            if state.get("phase") != "installed":
                raise Conflict("nothing is installed")
            req = InstallRequest.model_validate(state["request"])
            policy_id, _, sources = self.resolve(req)
            planner = self.planner()
            deployment = await self._deployment(self._url("scheduler"), sources, planner.cloud())
            current = {w["name"]: Workload.model_validate(w) for w in state.get("workloads", [])}
            policy = self.template.policies[policy_id]
            urls = {s.entry.id: self._stream_url(s) for s in sources}
            wanted = {w.name: w for w in planner.stage2(policy, sources, state["placement"], deployment, urls)}
            procs_now = {n for n, w in current.items() if w.component == "processor"}
            procs_wanted = {n for n, w in wanted.items() if w.component == "processor"}
            added = sorted(procs_wanted - procs_now)
            removed = sorted(procs_now - procs_wanted)
            if added:
                await self.deployer.apply([wanted[n] for n in added])
                await self.deployer.wait_ready(added, self.template.base.install.stage_timeout_s)
            if removed:
                await self.deployer.remove(removed)
            workloads = [w for n, w in current.items() if n not in removed] + [wanted[n] for n in added]
            self._save(deployment=deployment, workloads=[w.model_dump(mode="json") for w in workloads])
            return {"added": added, "removed": removed, "deployment": deployment}

    def start_redeploy_loop(self, interval: float) -> None:
        if interval > 0 and self._redeploy_task is None:
            self._redeploy_task = asyncio.create_task(self._redeploy_loop(interval))

    async def _redeploy_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if not self.installed():
                continue
            try:
                result = await self.redeploy_once()
                if result["added"] or result["removed"]:
                    log.info("redeployed: +%s -%s", result["added"], result["removed"])
            except DayuError as exc:
                log.warning("redeployment failed: %s", exc.message)

    async def close(self) -> None:
        for task in (self._task, self._redeploy_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
