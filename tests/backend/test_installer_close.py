"""``Installer.close``, what the backend's shutdown runs: an install still running is removed before the process
exits and stays ``installing``, so the next start installs it again; a deployed install is left running for
the next backend process to take over.

The runtime is the in-memory deployer of test_installer.py (a test double). The same with a real backend
process and the local runtime's processes is in test_teardown.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from backend.contracts.install import InstallPhase
from tests.backend.test_install_recovery import DEPLOYMENT, REQUEST, StallingDeployer, restarted, until
from tests.backend.test_installer import MemoryDeployer, make, settle

pytestmark = pytest.mark.unit


async def test_closing_during_an_install_removes_it_and_the_next_start_installs_again(tmp_path: Path) -> None:
    deployer = StallingDeployer()
    first = make(tmp_path, deployer, DEPLOYMENT)
    first.start_install(REQUEST)
    await until(first, lambda s: s.step == "stage2")
    for _ in range(1000):  # stage 2 has started half of its workloads and hangs there
        if any(w.stage == 2 for w in deployer.running.values()):
            break
        await asyncio.sleep(0.01)
    assert "scheduler" in deployer.running and any(w.stage == 2 for w in deployer.running.values())

    await first.close()
    assert deployer.running == {} and deployer.log[-1] == "remove_all"
    assert first.state().phase == InstallPhase.INSTALLING
    await first.client.aclose()

    deployer.stall = False
    second = restarted(first, deployer)
    second.recover_after_restart()
    state = await settle(second)
    assert state["phase"] == "installed", state
    assert "resumed" in [e["step"] for e in state["progress"]]
    await second.close()
    await second.client.aclose()


async def test_closing_after_the_install_leaves_it_running(tmp_path: Path) -> None:
    deployer = MemoryDeployer()
    installer = make(tmp_path, deployer, DEPLOYMENT)
    installer.start_install(REQUEST)
    assert (await settle(installer))["phase"] == "installed"
    running = dict(deployer.running)
    await installer.close()
    assert deployer.running == running and "remove_all" not in deployer.log
    assert installer.state().phase == InstallPhase.INSTALLED
    await installer.client.aclose()
