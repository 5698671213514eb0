"""Nothing a backend started outlives it when it is stopped in the middle of an install.

- The test fixture (:class:`RunningBackend`) ended mid-install: its teardown leaves no process of its run
  directory and no port of it listening.
- The product: ``python -m backend`` stopped with SIGTERM mid-install removes what the install had started
  before it exits (a deployed install outlives the backend on purpose; an unfinished one is removed by the
  next start anyway) and leaves the install ``installing``, so its next start installs it again.

Real processes throughout: the backend (uvicorn in a thread for the fixture, its own process for the
product's shutdown) and the local runtime's components. The install is held midway by stopping one of its
components with SIGSTOP as soon as its pid file appears (``leftovers.freeze``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from backend.contracts.install import InstallPhase
from backend.install.state import InstallStateMachine
from backend.local_runtime.runtime import LocalRuntime
from backend.store import Store
from tests import leftovers
from tests.backend.conftest import REPO, TOKEN, RunningBackend
from tests.servers import spawn

pytestmark = pytest.mark.e2e
INSTALL = {"datasource": "synthetic", "dag": "face-detection", "policy": "fixed"}
EXIT_TIMEOUT_S = 120.0
"""The backend's shutdown: it interrupts the install's start and stops what it had started (bounded there)."""


def phase(state_dir: Path) -> InstallPhase:
    store = Store(state_dir / "backend.sqlite3")
    try:
        return InstallStateMachine(store).get().phase
    finally:
        store.close()


def test_a_backend_fixture_ended_mid_install_leaves_no_process_and_no_port(tmp_path: Path, template_dir: Path) -> None:
    backend = RunningBackend(tmp_path / "state", template_dir)
    with backend:
        c = backend.client()
        assert c.post("/api/install", json=INSTALL).status_code == 202
        frozen = leftovers.freeze(backend.run_dir / "runtime", "distributor")  # stage 1 can never be healthy now
        state = c.get("/api/install").json()
        assert state["phase"] == "installing" and state["step"] == "stage1", state
        running = {p.pid for p in leftovers.processes_of(backend.run_dir)}
        assert frozen["pid"] in running, (frozen, running)
        ports = leftovers.recorded_ports(backend.run_dir)
        assert ports
    # The block is over: the fixture uninstalled, stopped the server and swept the run directory, and raised
    # (TeardownError) had any step failed or found a process still running after the uninstall.
    left = leftovers.processes_of(backend.run_dir)
    assert not left, leftovers.describe(left)
    assert not leftovers.listening(ports | {backend.port})
    assert phase(backend.state_dir) == InstallPhase.UNINSTALLED  # through the API, not only the sweep


def test_a_backend_stopped_by_sigterm_mid_install_leaves_nothing_running(tmp_path: Path) -> None:
    template, state_dir, run_dir = tmp_path / "template", tmp_path / "state", tmp_path / "run"
    shutil.copytree(REPO / "template", template)
    env = {
        "DAYU_TOKEN": TOKEN,
        "DAYU_TEMPLATE": str(template),
        "DAYU_STATE_DIR": str(state_dir),
        "DAYU_RUN_DIR": str(run_dir),
        "DAYU_DEPLOYER": "local",
        # Stage 2 only builds the streams' URLs from it (nothing is opened): any address will do.
        "DAYU_DATASOURCE_URL": "http://127.0.0.1:9",
    }
    try:
        with spawn("backend", env) as (process, url):
            headers = {"Authorization": f"Bearer {TOKEN}"}
            with httpx.Client(base_url=url, headers=headers, timeout=30, trust_env=False) as c:
                assert c.post("/api/install", json=INSTALL).status_code == 202
                frozen = leftovers.freeze(
                    run_dir / "runtime", "controller-edge1"
                )  # stage 1 runs, stage 2 never healthy
                state = c.get("/api/install").json()
            assert state["phase"] == "installing" and state["step"] == "stage2", state
            running = leftovers.processes_of(run_dir)
            names = {r["name"] for r in leftovers.pid_records(run_dir / "runtime") if "name" in r}
            assert {"scheduler", "distributor", "controller-edge1"} <= names, names
            assert process.pid in {p.pid for p in running} and frozen["pid"] in {p.pid for p in running}
            ports = leftovers.recorded_ports(run_dir)
            backend_port = int(url.rsplit(":", 1)[1])

            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(EXIT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pytest.fail(f"the backend did not exit within {EXIT_TIMEOUT_S:g}s of SIGTERM")
            left = leftovers.describe(leftovers.processes_of(run_dir))  # before the cleanup below ends them
            still_listening = leftovers.listening(ports | {backend_port})
    finally:  # a failed check leaves nothing behind either
        LocalRuntime(run_dir / "runtime").stop(timeout=10)
        leftovers.kill(leftovers.processes_of(run_dir))
    assert not left, left
    assert not still_listening
    assert phase(state_dir) == InstallPhase.INSTALLING  # the next start installs it again from its request
