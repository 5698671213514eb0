"""The install state follows component health by itself, and a backend that died during an install or an
uninstall finishes it when it starts again.

As in test_installer.py the runtime is the in-memory deployer (a test double) and the scheduler answers
through httpx.MockTransport; a backend "killed" mid-install is its install task cancelled where the real
process would have died (inside the runtime's apply), with a new Installer on the same SQLite store and
the same runtime (which keeps running, as the local runtime's processes do). The real thing, ``kill -9`` of
the backend process during stage 2, is in tests/faults/test_faults.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from backend.contracts.install import InstallPhase, InstallRequest, InstallState
from backend.deploy.base import InstanceStatus
from backend.install import Installer
from backend.install.state import InstallStateMachine
from backend.store import Store
from common.transport import ServiceClient
from common.workload import Workload
from tests.backend.test_installer import MemoryDeployer, make, scheduler, settle

pytestmark = pytest.mark.unit
REQUEST = InstallRequest(datasource="synthetic", dag="face-detection")
DEPLOYMENT = [{"face-detection": ["edge1"]}]


async def until(installer: Installer, check: Callable[[InstallState], bool], timeout: float = 60.0) -> InstallState:
    """The state once ``check`` holds; waits on state changes only (no polling)."""
    states = installer.states
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        seen = states.version
        state = states.get()
        if check(state):
            return state
        left = deadline - loop.time()
        assert left > 0, f"condition not met after {timeout}s: {state.phase} {state.step} {state.degraded_reason}"
        await states.wait_change(seen, left)


class Looks:
    """The health loop's pause, released look by look by the test: what each look decides does not depend
    on how fast the machine runs the loop."""

    def __init__(self) -> None:
        self.waits = 0
        self._go: asyncio.Queue[None] = asyncio.Queue()
        self._waiting = asyncio.Condition()

    async def __call__(self, _interval: float) -> None:
        async with self._waiting:
            self.waits += 1
            self._waiting.notify_all()
        await self._go.get()

    async def _until_waits(self, count: int) -> None:
        async with self._waiting:
            await asyncio.wait_for(self._waiting.wait_for(lambda: self.waits >= count), 60)

    async def ready(self) -> None:
        """Return once the loop is up and waiting for its first look."""
        await self._until_waits(1)

    async def take(self, n: int = 1) -> None:
        """Let ``n`` looks run and return once the loop waits again after the last (call ``ready`` first)."""
        target = self.waits + n
        for _ in range(n):
            self._go.put_nowait(None)
        await self._until_waits(target)


async def test_degraded_follows_component_health_with_nobody_asking(tmp_path: Path) -> None:
    deployer = MemoryDeployer()
    installer = make(tmp_path, deployer, DEPLOYMENT)
    installer.start_install(REQUEST)
    assert (await settle(installer))["phase"] == "installed"
    looks = Looks()
    installer.start_health_loop(5.0, wait=looks)
    await looks.ready()
    version = installer.states.version

    deployer.fail.add("monitor-edge1")  # it crashed; nobody reads the install state
    assert installer.state().phase == InstallPhase.INSTALLED  # not yet looked at
    await looks.take()
    state = installer.state()
    assert state.phase == InstallPhase.DEGRADED and state.degraded_reason == "down: monitor-edge1"
    assert installer.states.version > version  # a change watchers (the event stream) are woken for
    deployer.running.pop("scheduler")  # gone from the runtime altogether: down as well
    await looks.take()
    state = installer.state()
    assert state.degraded_reason == "down: monitor-edge1, scheduler"
    deployer.running["scheduler"] = next(w for w in state.workloads if w.name == "scheduler")
    deployer.fail.clear()
    await looks.take()
    state = installer.state()
    assert state.phase == InstallPhase.INSTALLED and state.degraded_reason is None

    # While an install action holds the lock (a redeployment starting processors) nothing is judged.
    async with installer.lock:
        deployer.fail.add("distributor")
        await looks.take(3)
        assert installer.state().phase == InstallPhase.INSTALLED
    await looks.take()
    state = installer.state()
    assert state.phase == InstallPhase.DEGRADED and state.degraded_reason == "down: distributor"
    await installer.close()
    await installer.client.aclose()


async def test_the_state_stays_put_while_health_does_not_change(tmp_path: Path) -> None:
    deployer = MemoryDeployer(fail={"distributor"})
    installer = make(tmp_path, deployer, DEPLOYMENT)
    states = installer.states
    states.begin_install()
    deployer.running = {"distributor": Workload(name="distributor", component="distributor", node="cloud")}
    states.installed(workloads=list(deployer.running.values()))
    await installer.follow_health()
    version = states.version
    assert states.get().phase == InstallPhase.DEGRADED
    for _ in range(3):
        await installer.follow_health()
    assert states.version == version  # no event per look while the same component stays down
    await installer.client.aclose()


class StallingDeployer(MemoryDeployer):
    """Stage 2 starts half of its workloads, then the backend process dies (the apply never returns)."""

    def __init__(self) -> None:
        super().__init__()
        self.stall = True

    async def apply(self, workloads: Sequence[Workload]) -> None:
        if self.stall and any(w.component == "generator" for w in workloads):
            for w in workloads[: len(workloads) // 2]:
                self.running[w.name] = w
                self.log.append(f"+{w.name}")
            await asyncio.Event().wait()
        await super().apply(workloads)


def restarted(old: Installer, deployer: MemoryDeployer) -> Installer:
    """A new backend process: the same store and runtime, fresh everything else."""
    client = ServiceClient(transport=scheduler(list(DEPLOYMENT)), retries=0)
    return Installer(old.template, old.store, deployer, client, token="t", datasource_url="http://ds")


async def kill_mid_stage2(tmp_path: Path) -> tuple[Installer, StallingDeployer]:
    deployer = StallingDeployer()
    first = make(tmp_path, deployer, DEPLOYMENT)
    first.start_install(REQUEST)
    await until(first, lambda s: s.step == "stage2")
    for _ in range(100):
        if any(w.component == "generator" for w in deployer.running.values()):
            break
        await asyncio.sleep(0.01)
    assert first._task is not None
    first._task.cancel()  # the process dies: no failure handling runs, the stored state says installing
    with contextlib.suppress(asyncio.CancelledError):
        await first._task
    await first.client.aclose()
    assert first.state().phase == InstallPhase.INSTALLING
    return first, deployer


async def test_an_install_interrupted_by_a_backend_restart_is_installed_again(tmp_path: Path) -> None:
    first, deployer = await kill_mid_stage2(tmp_path)
    half = set(deployer.running)
    deployer.stall = False
    second = restarted(first, deployer)
    assert second.recover_after_restart().error.code == "recovering"  # type: ignore[union-attr]
    state = await settle(second)
    assert state["phase"] == "installed", state
    assert [e["step"] for e in state["progress"]][:2] == ["validated", "resumed"]
    cleanup = deployer.log.index("remove_all")
    assert cleanup > max(deployer.log.index(f"+{n}") for n in half)  # what the first attempt left went first
    assert "+scheduler" in deployer.log[cleanup:] and "+generator-cam0" in deployer.log[cleanup:]
    assert {w["name"] for w in state["workloads"]} == set(deployer.running)
    await second.client.aclose()


async def test_a_second_interruption_leaves_it_failed_saying_why_and_a_new_install_works(tmp_path: Path) -> None:
    first, deployer = await kill_mid_stage2(tmp_path)
    second = restarted(first, deployer)
    second.recover_after_restart()
    await until(second, lambda s: s.step == "stage2")  # resumed, and the backend dies again in stage 2
    assert second._task is not None
    second._task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await second._task
    await second.client.aclose()

    third = restarted(first, deployer)
    third.recover_after_restart()
    state = await settle(third)
    assert state["phase"] == "failed" and state["error"]["code"] == "interrupted"
    assert "interrupted twice" in state["error"]["message"] and "install again" in state["error"]["message"]
    assert deployer.running == {}  # nothing half-installed keeps running
    deployer.stall = False
    third.start_install(REQUEST)  # no manual cleanup needed first
    assert (await settle(third))["phase"] == "installed"
    await third.client.aclose()


async def test_an_uninstall_interrupted_by_a_backend_restart_is_finished(tmp_path: Path) -> None:
    deployer = MemoryDeployer()
    first = make(tmp_path, deployer, DEPLOYMENT)
    first.start_install(REQUEST)
    await settle(first)
    first.states.begin_uninstall()  # and the process died before removing anything
    second = restarted(first, deployer)
    second.recover_after_restart()
    await asyncio.wait_for(second._task, 5)  # type: ignore[arg-type]
    assert second.state().phase == InstallPhase.UNINSTALLED and deployer.running == {}
    assert InstallStateMachine(Store(tmp_path / "db.sqlite3")).get() == InstallState()
    await first.client.aclose()
    await second.client.aclose()


async def test_a_change_wakes_a_watcher_at_once_and_a_quiet_state_times_out(tmp_path: Path) -> None:
    states = InstallStateMachine(Store(tmp_path / "db.sqlite3"))
    seen = states.version
    assert await states.wait_change(seen, 0.05) == seen  # nothing changed: back after the timeout
    watcher = asyncio.create_task(states.wait_change(seen, 5.0))
    await asyncio.sleep(0.01)
    states.begin_install()
    assert await asyncio.wait_for(watcher, 1.0) == seen + 1
    assert await states.wait_change(seen, 5.0) == seen + 1  # a change already past returns at once


class RestartingDeployer(MemoryDeployer):
    """Reports every workload ready; ``restarts`` says how often the runtime restarted each one."""

    def __init__(self) -> None:
        super().__init__()
        self.restarts: dict[str, int] = {}

    async def status(self) -> list[InstanceStatus]:
        return [s.model_copy(update={"restarts": self.restarts.get(s.name, 0)}) for s in await super().status()]


async def test_a_crash_shorter_than_the_health_interval_is_still_reported(tmp_path: Path) -> None:
    """The runtime restarted the distributor between two looks (it is ready again at both): the install reads
    degraded naming it for one look, then installed, instead of never showing the crash."""
    from backend.install.health import follow_health

    deployer = RestartingDeployer()
    states = InstallStateMachine(Store(tmp_path / "db.sqlite3"))
    states.begin_install()
    deployer.running = {"distributor": Workload(name="distributor", component="distributor", node="cloud")}
    states.installed(workloads=list(deployer.running.values()))
    restarts: dict[str, int] = {}
    await follow_health(states, deployer, restarts)
    assert states.get().phase == InstallPhase.INSTALLED  # the first look only learns the counts
    deployer.restarts["distributor"] = 1
    await follow_health(states, deployer, restarts)
    assert states.get().phase == InstallPhase.DEGRADED and states.get().degraded_reason == "down: distributor"
    await follow_health(states, deployer, restarts)
    assert states.get().phase == InstallPhase.INSTALLED
