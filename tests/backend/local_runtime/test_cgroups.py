"""CPU quotas of virtual nodes with this machine's real cgroups: a busy process under a node's quota gets
at most about its quota of CPU, the monitor on that node reports the quota as its capacity, the cgroups
go away with the deployment, and where cgroups cannot be used the status says so. Needs root and a
writable cpu controller (skipped otherwise, with the reason the runtime gives)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from backend.local_runtime import cgroups
from backend.local_runtime.cgroups import NodeCpuLimits
from backend.local_runtime.netns import unavailable_reason
from backend.local_runtime.runtime import LocalRuntime
from common.cgroupfs import CpuController
from common.workload import Workload

pytestmark = pytest.mark.integration

BUSY = "import time\nend = time.monotonic() + 60\nwhile time.monotonic() < end:\n    pass\n"
WINDOW_S = 3.0
NETNS = unavailable_reason()


def _enforced(tmp_path: Path) -> str | None:
    """Why quotas cannot be enforced here (None: they can)."""
    probe = NodeCpuLimits(tmp_path / "probe")
    state = probe.setup({"n": 0.5})
    probe.teardown()
    return None if state["enforced"] else state["reason"]


def test_a_busy_process_gets_at_most_about_its_nodes_quota(tmp_path: Path) -> None:
    reason = _enforced(tmp_path)
    if reason is not None:
        pytest.skip(reason)
    limits = NodeCpuLimits(tmp_path / "run")
    state = limits.setup({"edge1": 0.25, "cloud": None})
    assert state["enforced"] and state["nodes"]["cloud"]["cgroup"] is None
    directory = Path(state["nodes"]["edge1"]["cgroup"])
    assert limits.command("cloud", ["x"]) == ["x"]
    busy = subprocess.Popen(limits.command("edge1", [sys.executable, "-c", BUSY]))
    try:
        proc = psutil.Process(busy.pid)
        deadline = time.monotonic() + 10
        while str(busy.pid) not in (directory / "cgroup.procs").read_text().split():
            assert time.monotonic() < deadline, "the process never entered its node's cgroup"
            time.sleep(0.02)
        before, began = sum(proc.cpu_times()[:2]), time.monotonic()
        time.sleep(WINDOW_S)
        used, elapsed = sum(proc.cpu_times()[:2]) - before, time.monotonic() - began
    finally:
        busy.kill()
        busy.wait(timeout=10)
    # Unlimited, a busy loop takes a whole core; a loaded machine can only give it less. The quota lets
    # it have a quarter of one (one CFS period of slack at each end of the window).
    assert used <= 0.25 * elapsed + 0.2, (used, elapsed)
    assert limits.teardown() and not directory.exists()


def test_without_a_usable_controller_the_quota_is_reported_as_not_enforced(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(cgroups, "cpu_controller", lambda: None)
    limits = NodeCpuLimits(tmp_path / "run")
    state = limits.setup({"edge1": 0.5, "cloud": None})
    assert state["enforced"] is False
    assert "NOT enforced" in state["reason"] and "no cgroup hierarchy with the cpu controller" in state["reason"]
    assert state["nodes"]["edge1"] == {"cpu_quota": 0.5, "cgroup": None}
    assert limits.command("edge1", ["x"]) == ["x"]  # runs unlimited, and the status says so
    assert limits.describe() == state
    # A hierarchy this user cannot write: the error is the reason.
    unwritable = NodeCpuLimits(tmp_path / "run2", controller=CpuController(1, Path("/proc/self")))
    monkeypatch.setattr(cgroups, "own_cgroup", lambda controller: "/")
    refused = unwritable.setup({"edge1": 0.5})
    assert refused["enforced"] is False and "cannot set CPU quotas" in refused["reason"]


@pytest.mark.parametrize("mode", ["process", "netns"])
def test_the_monitor_reports_its_nodes_quota_as_capacity(tmp_path: Path, mode: str) -> None:
    """In netns mode the component starts through ``ip netns exec`` inside the cgroup's ``sh``."""
    reason = _enforced(tmp_path) or (NETNS if mode == "netns" else None)
    if reason is not None:
        pytest.skip(reason)
    nodes = {"cloud": {"role": "cloud"}, "edge1": {"role": "edge", "cpu_quota": 0.5}}
    workloads = [
        Workload(name="monitor-cloud", component="monitor", node="cloud", stage=1, config={"probes": ["cpu"]}),
        Workload(name="monitor-edge1", component="monitor", node="edge1", stage=1, config={"probes": ["cpu"]}),
    ]
    rt = LocalRuntime(tmp_path / "run")
    rt.start(nodes, [], workloads, timeout=60, link_mode=mode)
    try:
        assert rt.link_status()["mode"] == mode
        status = rt.cpu_status()
        assert status["enforced"] is True and status["nodes"]["edge1"]["cpu_quota"] == 0.5
        edge_cgroup = Path(status["nodes"]["edge1"]["cgroup"])
        reports = {}
        with httpx.Client(timeout=10, trust_env=False) as client:
            for name in ("monitor-cloud", "monitor-edge1"):
                deadline = time.monotonic() + 30
                while True:
                    report = client.get(rt.url(name) + "/resources").json()
                    if report.get("cpu_capacity_cores") is not None:
                        reports[name] = report
                        break
                    assert time.monotonic() < deadline, report
                    time.sleep(0.2)
    finally:
        rt.stop(timeout=5)
    assert reports["monitor-edge1"]["cpu_capacity_cores"] == 0.5
    assert reports["monitor-edge1"]["extra"]["cpu_limited_by"].endswith("/edge1")
    assert reports["monitor-cloud"]["cpu_capacity_cores"] == len(psutil.Process().cpu_affinity() or [])
    assert "cpu_limited_by" not in reports["monitor-cloud"]["extra"]
    assert not edge_cgroup.exists()  # stop removed the node's cgroup
