"""The installer: one lock serialises install, uninstall, open/close and redeployment.

Install runs in the background (the API answers at once; the state says how far it got). Any failure
removes what was deployed and leaves a failure report in the state. Uninstall and redeployment take the
same lock, so an uninstall waits for a redeployment in progress (and vice versa).

A backend that died during an install or an uninstall finishes it when it starts again: an interrupted
uninstall removes what is left; an interrupted install removes what it had deployed and starts again from
its stored request, once (a second interruption leaves it failed, saying why, for the user to uninstall or
install again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from backend.contracts.install import ErrorInfo, InstallPhase, InstallRequest, InstallState, RedeployResult
from backend.contracts.query import QueryState
from backend.datasource_config import DatasourceConfig
from backend.deploy.base import Deployer
from backend.install import health
from backend.install.redeploy import redeploy, redeploy_loop
from backend.install.resolve import ResolvedInstall, resolve
from backend.install.runtime import RuntimeCalls
from backend.install.stages import StageRunner
from backend.install.state import InstallStateMachine
from backend.install.validate import validate_install
from backend.policy_availability import unavailable_reason
from backend.store import Store
from backend.templates import Template
from common.errors import Conflict, InvalidInput, Unavailable
from common.transport import ServiceClient

log = logging.getLogger(__name__)
QUERY_KEY = "query"
CLOSE_REMOVE_TIMEOUT_S = 60.0
"""Bound of removing an unfinished install while the backend stops."""
RESUMED_STEP = "resumed"


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
        self.token = token
        self.states = InstallStateMachine(store)
        self.runtime = RuntimeCalls(deployer, client, datasource_url)
        self.lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._redeploy_task: asyncio.Task[None] | None = None
        self._health_task: asyncio.Task[None] | None = None

    @property
    def client(self) -> ServiceClient:
        return self.runtime.client

    @client.setter
    def client(self, value: ServiceClient) -> None:
        self.runtime.client = value

    # -- reading -----------------------------------------------------------------------------------
    def state(self) -> InstallState:
        return self.states.get()

    def deployed(self) -> bool:
        """Workloads are up (installed, or degraded: a component is down but the rest serves)."""
        return self.state().deployed

    def query(self) -> QueryState:
        raw = self.store.get_state(QUERY_KEY)
        return QueryState.model_validate(raw) if raw else QueryState()

    def resolve(self, req: InstallRequest) -> ResolvedInstall:
        resolved = resolve(self.template, self.store, self.deployer.nodes(), req)
        validate_install(self.template, resolved.policy, resolved.sources)
        # The local runtime starts the scheduler from this environment: a policy whose agent cannot load here
        # would fail only at the scheduler's start, after the install began (a cluster's image decides there).
        if self.deployer.kind == "local" and (why := unavailable_reason(self.template, resolved.policy)):
            raise InvalidInput(f"policy {resolved.policy!r} is not available here: {why}",
                               detail={"policy": resolved.policy})  # fmt: skip
        return resolved

    # -- install -------------------------------------------------------------------------------------
    def start_install(self, req: InstallRequest) -> InstallState:
        if self.lock.locked():
            raise Conflict("cannot install: another install action is running", detail={"phase": self.state().phase})
        self.states.check(InstallPhase.INSTALLING)
        resolved = self.resolve(req)
        self.deployer.use_trace(req.trace, req.trace_mode)
        state = self.states.begin_install(
            policy=resolved.policy,
            datasource=resolved.datasource.name,
            request=req,
            sources=[{"source_id": s.entry.id, "dag": s.dag_name, "nodes": s.nodes} for s in resolved.sources],
        )
        self._task = asyncio.create_task(self._install(resolved))
        return state

    async def _install(self, resolved: ResolvedInstall) -> None:
        async with self.lock:
            await self._run_stages(resolved)

    async def _run_stages(self, resolved: ResolvedInstall) -> None:
        runner = StageRunner(self.template, self.deployer, self.states, self.runtime, self.token)
        try:
            await runner.run(resolved)
        except Exception as exc:  # any failure: report it and leave nothing half-deployed
            log.warning("install failed: %s", exc)
            with contextlib.suppress(Exception):
                await self.deployer.remove_all()
            self.states.fail(exc)

    # -- after a restart of the backend ----------------------------------------------------------
    def recover_after_restart(self) -> InstallState:
        """At start: an install or uninstall the previous process was running is finished in the background
        (the state says ``failed``, code ``recovering``, until the cleanup has run)."""
        before = self.state()
        after = self.states.recover_after_restart()
        if before.phase in (InstallPhase.INSTALLING, InstallPhase.UNINSTALLING):
            self._task = asyncio.create_task(self._finish_interrupted(before))
        return after

    async def _finish_interrupted(self, before: InstallState) -> None:
        async with self.lock:
            try:
                await self.deployer.remove_all()  # half an install, or what an uninstall left
            except Exception as exc:
                log.warning("removing what the interrupted %s left failed: %s", before.phase.value, exc)
                self._interrupted(f"removing what it left failed ({exc}); uninstall to try again")
                return
            if before.phase == InstallPhase.UNINSTALLING:
                self.store.set_state(QUERY_KEY, None)
                self.states.begin_uninstall()
                self.states.uninstalled()
                log.info("finished the uninstall the previous backend process was running")
                return
            if before.request is None:
                self._interrupted("what it had deployed was removed; it kept no request to start again from")
                return
            if any(e.step == RESUMED_STEP for e in before.progress):
                self._interrupted("it was interrupted twice; what it had deployed was removed: install again")
                return
            try:
                resolved = self.resolve(before.request)
                self.deployer.use_trace(before.request.trace, before.request.trace_mode)
            except Exception as exc:  # the template or a stored config changed meanwhile
                self._interrupted(f"what it had deployed was removed; it cannot start again: {exc}")
                return
            self.states.begin_install(
                policy=resolved.policy,
                datasource=resolved.datasource.name,
                request=before.request,
                sources=[{"source_id": s.entry.id, "dag": s.dag_name, "nodes": s.nodes} for s in resolved.sources],
            )
            message = "the backend restarted during the install: what it had deployed was removed, installing again"
            self.states.progress(RESUMED_STEP, message)
            log.info("%s", message)
            await self._run_stages(resolved)

    def _interrupted(self, why: str) -> None:
        message = f"the backend restarted during the install; {why}"
        self.states.update(error=ErrorInfo(code="interrupted", message=message))

    # -- open / close ----------------------------------------------------------------------------------
    def _datasource(self, state: InstallState) -> DatasourceConfig:
        if state.datasource is None:
            raise Conflict("nothing is installed: install first")
        return DatasourceConfig.model_validate(self.store.get_datasource(state.datasource)["config"])

    async def open_sources(self, sources: list[str]) -> QueryState:
        """Open ``sources`` (empty: every installed one): the datasource serves them, their generators read."""
        state = self.state()
        if not state.deployed:
            raise Conflict("nothing is installed: install first", detail={"phase": state.phase})
        known = [s.source_id for s in state.sources]
        wanted = sources or known
        unknown = [s for s in wanted if s not in known]
        if unknown:
            raise InvalidInput(f"sources not installed: {unknown}; installed: {known}", detail={"unknown": unknown})
        async with self.lock:
            await self.runtime.open_sources(self._datasource(state), state.placement, wanted)
        return self._set_query(True, wanted)

    async def close_sources(self) -> QueryState:
        """Close every open source; closing what is closed changes nothing."""
        query = self.query()
        if not query.open:
            return QueryState()
        state = self.state()
        async with self.lock:
            await self.runtime.close_sources(self._datasource(state), state.placement, query.sources)
        return self._set_query(False, query.sources)

    def _set_query(self, opened: bool, sources: list[str]) -> QueryState:
        query = QueryState(open=opened, sources=sources, since=time.time())
        self.store.set_state(QUERY_KEY, query.model_dump(mode="json"))
        return query

    # -- health of what is deployed ---------------------------------------------------------------
    async def follow_health(self) -> None:
        """Look at the components now (the health loop does this every few seconds)."""
        if not self.lock.locked():
            await health.follow_health(self.states, self.deployer)

    def start_health_loop(self, interval: float, *, wait: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if interval > 0 and self._health_task is None:
            self._health_task = asyncio.create_task(
                health.health_loop(interval, self.states, self.deployer, self.lock, wait=wait)
            )

    def mark_degraded(self, reason: str) -> InstallState:
        """A deployed component is down; the install keeps serving with what is left."""
        return self.states.mark_degraded(reason)

    def mark_recovered(self) -> InstallState:
        return self.states.mark_recovered()

    # -- uninstall -----------------------------------------------------------------------------------
    async def uninstall(self, timeout: float = 120.0) -> InstallState:
        """Close the sources, stop an install in progress, remove every workload."""
        self.states.check(InstallPhase.UNINSTALLING)
        if self.query().open:
            try:
                await asyncio.wait_for(self.close_sources(), timeout)
            except Exception as exc:  # the workloads go anyway; the components' own shutdown drains them
                log.warning("closing the sources before uninstalling failed: %s", exc)
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        try:
            await asyncio.wait_for(self.lock.acquire(), timeout)
        except TimeoutError:
            raise Unavailable(f"a redeployment still holds the lock after {timeout:.0f}s") from None
        try:
            self.states.begin_uninstall()
            try:
                await self.deployer.remove_all()
            except Exception as exc:
                self.states.fail(exc)
                raise
            self.store.set_state(QUERY_KEY, None)
            return self.states.uninstalled()
        finally:
            self.lock.release()

    # -- redeployment --------------------------------------------------------------------------------
    async def redeploy_once(self) -> RedeployResult:
        """Ask the scheduler for a deployment, diff it with the current processors, apply, wait."""
        async with self.lock:
            state = self.state()
            if not state.deployed or state.request is None:
                raise Conflict("nothing is installed", detail={"phase": state.phase})
            resolved = resolve(self.template, self.store, self.deployer.nodes(), state.request)
            return await redeploy(self.template, self.deployer, self.states, self.runtime, resolved, self.token)

    def start_redeploy_loop(self, interval: float) -> None:
        if interval > 0 and self._redeploy_task is None:
            self._redeploy_task = asyncio.create_task(redeploy_loop(interval, self.deployed, self.redeploy_once))

    async def close(self, remove_timeout: float = CLOSE_REMOVE_TIMEOUT_S) -> None:
        """The backend stops: its tasks end; an install it was still running is removed (within
        ``remove_timeout`` s). A deployed install keeps running for the next backend process to take over.

        The half install would outlive the process otherwise, with nothing left running that knows of it until
        the next start removes it (:meth:`recover_after_restart`). Its stored state stays ``installing``, so
        that next start installs it again from the request, as after ``kill -9``."""
        unfinished = self._task is not None and not self._task.done() and self.state().phase == InstallPhase.INSTALLING
        for task in (self._task, self._redeploy_task, self._health_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if not unfinished:
            return
        try:
            await asyncio.wait_for(self.deployer.remove_all(), remove_timeout)
            log.info("the backend stopped during an install: what it had deployed was removed")
        except Exception as exc:  # reported; the next start removes what is left
            log.warning("removing the unfinished install as the backend stops failed: %r", exc)
