"""Supervision of the local runtime with real component processes: a component killed with SIGKILL is
reaped and started again on its port after a bounded backoff, its restarts are counted, and a
component stopped on purpose (by this runtime or another instance) stays stopped."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from backend.local_runtime.runtime import LocalRuntime
from backend.local_runtime.supervisor import Backoff
from common.workload import Workload
from tests import loopback

pytestmark = pytest.mark.integration

NODES = {"cloud": {"role": "cloud"}, "edge1": {"role": "edge"}}
WORKLOADS = [
    Workload(name="controller-cloud", component="controller", node="cloud"),
    Workload(name="controller-edge1", component="controller", node="edge1"),
]


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def not_a_zombie_of_ours(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_killed_component_is_reaped_restarted_and_counted(tmp_path: Path) -> None:
    rt = LocalRuntime(tmp_path / "run")
    rt.start(NODES, [], WORKLOADS, timeout=30, token="t")
    rt.supervise(interval_s=0.1, backoff=Backoff(base_s=0.2, max_s=1.0))
    try:
        before = rt.status()["controller-edge1"]
        os.kill(before["pid"], signal.SIGKILL)
        killed_at = time.monotonic()

        def back() -> dict | None:
            now = rt.status()["controller-edge1"]
            return now if now["healthy"] and now["pid"] != before["pid"] else None

        after = wait_for(back, 60, "the restart")
        print(f"recovered in {time.monotonic() - killed_at:.2f}s")
        assert after["port"] == before["port"] and after["restarts"] == 1
        assert not_a_zombie_of_ours(before["pid"])
        assert rt.status()["controller-cloud"]["restarts"] == 0
        headers = {"Authorization": "Bearer t"}
        assert loopback.get(f"http://127.0.0.1:{after['port']}/status", headers=headers).status_code == 200
        # A second crash right away: counted again, and the supervisor waits longer before it.
        os.kill(after["pid"], signal.SIGKILL)
        again = wait_for(
            lambda: (s := rt.status()["controller-edge1"])["healthy"] and s["pid"] != after["pid"] and s, 60, "again"
        )
        assert again["restarts"] == 2
        assert rt.supervisor is not None and rt.supervisor.down() == {}
    finally:
        outcome = rt.stop(timeout=10)
        rt.close()
    assert set(outcome.values()) == {"terminated"}


def test_components_stopped_on_purpose_stay_stopped(tmp_path: Path) -> None:
    rt = LocalRuntime(tmp_path / "run")
    rt.start(NODES, [], WORKLOADS, timeout=30, token="t")
    rt.supervise(interval_s=0.05, backoff=Backoff(base_s=0.05, max_s=0.1))
    try:
        pids = {name: s["pid"] for name, s in rt.status().items()}
        # Another instance (a CLI `down`, a restarted backend) stops one of them.
        LocalRuntime(tmp_path / "run").stop(timeout=10, names=["controller-edge1"])
        # Reaped by the supervising process, however long the loaded machine takes to get to it ...
        wait_for(lambda: not_a_zombie_of_ours(pids["controller-edge1"]), 60, "the stopped component reaped")
        time.sleep(1.5)  # ... then many supervision rounds (0.05 s, backoff <= 0.1 s) in which it must not restart
        assert set(rt.status()) == {"controller-cloud"}
        rt.stop(timeout=10)
        time.sleep(1.0)
        assert rt.records() == []
    finally:
        rt.stop(timeout=10)
        rt.close()


@pytest.mark.unit
def test_backoff_doubles_and_is_bounded() -> None:
    backoff = Backoff(base_s=0.5, max_s=4.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
