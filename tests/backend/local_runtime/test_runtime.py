"""The local runtime starting real component processes (controllers), stopping them from a fresh
``LocalRuntime`` (as after a restart of the caller), and cleaning up after a failed start."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from backend.local_runtime.__main__ import main as cli
from backend.local_runtime.runtime import LocalRuntime, launch_order
from common.errors import Conflict, InvalidInput, Unavailable
from common.topology import WatchedTopology
from common.workload import Workload
from tests import loopback

pytestmark = pytest.mark.integration

NODES = {"cloud": {"role": "cloud"}, "edge1": {"role": "edge"}}
LINKS = [{"a": "cloud", "b": "edge1", "bandwidth_mbps": 50, "latency_ms": 3}]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_start_status_and_stop_from_another_instance(tmp_path: Path) -> None:
    # The edge controller runs under a shell that also starts a background child: the whole group must go.
    wrapped = [
        "/bin/sh",
        "-c",
        f"sleep 300 & exec {sys.executable} -m services.controller",
    ]
    workloads = [
        Workload(name="controller-cloud", component="controller", node="cloud"),
        Workload(name="controller-edge1", component="controller", node="edge1", command=wrapped),
    ]
    rt = LocalRuntime(tmp_path / "run")
    topology = rt.start(NODES, LINKS, workloads, timeout=30, token="s3cret")
    try:
        assert set(topology.nodes()) == {"cloud", "edge1"}
        saved = json.loads(rt.topology_path.read_text())
        assert saved["links"][0]["bandwidth_mbps"] == 50
        assert saved["nodes"]["edge1"]["work_dir"].endswith("nodes/edge1/work")
        status = rt.status()
        assert all(s["alive"] and s["healthy"] for s in status.values()), status
        edge_url = rt.url("controller-edge1")
        assert loopback.get(edge_url + "/status").status_code == 401  # the token is required
        body = loopback.get(edge_url + "/status", headers={"Authorization": "Bearer s3cret"}).json()
        assert body["node"] == "edge1"
        with pytest.raises(Conflict, match="already running"):
            rt.start(NODES, LINKS, workloads)
        group = {p.pid for p in psutil.process_iter() if _pgid(p.pid) == status["controller-edge1"]["pid"]}
        assert len(group) >= 2  # the controller and its sleeping sibling
    finally:
        outcome = LocalRuntime(tmp_path / "run").stop(timeout=10)  # a new instance: only pid files to go by
    assert set(outcome.values()) == {"terminated"}, outcome
    assert not list((tmp_path / "run" / "pids").glob("*.json"))
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in group)
    for s in status.values():
        assert port_free(s["port"]), s


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def test_a_component_that_dies_at_start_fails_the_start_and_nothing_is_left(tmp_path: Path) -> None:
    workloads = [
        Workload(name="controller-cloud", component="controller", node="cloud", stage=1),
        Workload(
            name="broken",
            component="controller",
            node="edge1",
            command=[sys.executable, "-c", "import sys; print('bad config here'); sys.exit(3)"],
        ),
    ]
    rt = LocalRuntime(tmp_path / "run")
    with pytest.raises(Unavailable, match="bad config here"):
        rt.start(NODES, LINKS, workloads, timeout=30)
    assert rt.records() == []
    assert not rt.status()


def test_bad_descriptions_are_refused_before_anything_starts(tmp_path: Path) -> None:
    rt = LocalRuntime(tmp_path / "run")
    with pytest.raises(InvalidInput, match="unknown node"):
        rt.start(NODES, [], [Workload(name="c", component="controller", node="mars")])
    with pytest.raises(InvalidInput, match="exactly one cloud"):
        rt.start({"a": {"role": "edge"}}, [], [])
    with pytest.raises(InvalidInput, match="twice"):
        rt.start(
            NODES,
            [],
            [
                Workload(name="c", component="controller", node="cloud"),
                Workload(name="c", component="controller", node="edge1"),
            ],
        )
    assert rt.records() == []


def test_command_line_up_status_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "nodes: {cloud: {role: cloud}}\nworkloads:\n  - {name: controller-cloud, component: controller, node: cloud}\n"
    )
    run = str(tmp_path / "run")
    try:
        assert cli(["--run-dir", run, "up", str(spec), "--timeout", "30"]) == 0
        capsys.readouterr()
        assert cli(["--run-dir", run, "status"]) == 0
        assert json.loads(capsys.readouterr().out)["controller-cloud"]["healthy"] is True
        assert cli(["--run-dir", run, "links"]) == 0
        assert json.loads(capsys.readouterr().out)["mode"] == "process"  # the default link mode
    finally:
        assert cli(["--run-dir", run, "down"]) == 0
    assert json.loads(capsys.readouterr().out) == {"controller-cloud": "terminated"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: {cloud: {role: moon}}\n")
    assert cli(["--run-dir", run, "up", str(bad)]) == 1
    assert "bad.yaml:1" in capsys.readouterr().err


def test_apply_touches_only_what_changed_and_running_components_see_the_new_topology(tmp_path: Path) -> None:
    cloud = Workload(name="controller-cloud", component="controller", node="cloud")
    edge = Workload(name="controller-edge1", component="controller", node="edge1")
    extra = Workload(
        name="processor-pass-edge1",
        component="processor",
        node="edge1",
        service="passthrough",
        config={"service": "passthrough", "application": {"alias": "passthrough"}},
    )
    rt = LocalRuntime(tmp_path / "run")
    try:
        rt.apply(NODES, LINKS, [cloud, edge], timeout=30)  # nothing ran: a full start
        pids = {name: s["pid"] for name, s in rt.status().items()}
        rt.apply(NODES, LINKS, [cloud, edge, extra], timeout=30)
        after_add = rt.status()
        assert {n: after_add[n]["pid"] for n in pids} == pids  # untouched components kept running
        assert after_add["processor-pass-edge1"]["healthy"]
        # The cloud controller, started before the processor existed, now finds it through its topology.
        watched = WatchedTopology(rt.topology_path, check_every=0.0)
        assert watched.has_processor("passthrough", "edge1")
        rt.apply(NODES, LINKS, [cloud, edge], timeout=30)
        after_remove = rt.status()
        assert set(after_remove) == {"controller-cloud", "controller-edge1"}
        assert {n: after_remove[n]["pid"] for n in pids} == pids
        assert not watched.has_processor("passthrough", "edge1")
        changed_edge = edge.model_copy(update={"env": {"DAYU_LOG_LEVEL": "DEBUG"}})
        port = after_remove["controller-edge1"]["port"]
        rt.apply(NODES, LINKS, [cloud, changed_edge], timeout=30)
        after_change = rt.status()
        assert after_change["controller-edge1"]["pid"] != pids["controller-edge1"]  # restarted
        assert after_change["controller-edge1"]["port"] == port  # on its old port
        assert after_change["controller-cloud"]["pid"] == pids["controller-cloud"]
    finally:
        rt.stop(timeout=10)
    assert rt.records() == []


def test_watched_topology_follows_the_file_and_keeps_the_last_good_one(tmp_path: Path) -> None:
    path = tmp_path / "topology.json"
    path.write_text(json.dumps({"nodes": {"cloud": {"role": "cloud"}}}))
    watched = WatchedTopology(path, check_every=0.0)
    assert list(watched.nodes()) == ["cloud"]
    path.write_text(json.dumps({"nodes": {"cloud": {"role": "cloud"}, "edge1": {"role": "edge"}}}))
    os.utime(path, ns=(1, 10**18))  # a distinct mtime even on coarse-grained file systems
    assert sorted(watched.nodes()) == ["cloud", "edge1"]
    path.write_text("{ not json")
    os.utime(path, ns=(1, 2 * 10**18))
    assert sorted(watched.nodes()) == ["cloud", "edge1"]  # a broken file keeps the last good topology


def test_generators_start_after_everything_they_send_to() -> None:
    """A file source sends its first task at launch: every processor and controller must be listening."""
    workloads = [
        Workload(name="gen-a", component="generator", node="e1", source_id="a", config={}),
        Workload(name="proc", component="processor", node="e1", service="s", config={}),
        Workload(name="sched", component="scheduler", node="cloud", stage=1, config={}),
        Workload(name="ctl", component="controller", node="e1", config={}),
    ]
    order = [[w.name for w in batch] for batch in launch_order(workloads)]
    assert order == [["sched"], ["proc", "ctl"], ["gen-a"]]
    assert [[w.name for w in b] for b in launch_order(workloads[1:2])] == [["proc"]]


def test_a_launch_cut_before_its_pid_file_is_stopped_by_the_next_stop(tmp_path: Path) -> None:
    """The launching process dies (kill -9) after starting a component and before saving its pid file: the
    launch intent it wrote first lets the next stop find that component and end it."""
    rt = LocalRuntime(tmp_path / "run")
    config = rt.run_dir / "config" / "proc.json"
    rt.pid_dir.mkdir(parents=True)
    (rt.pid_dir / "proc.launching").write_text(json.dumps({"config": str(config), "at": time.time() - 0.5}))
    env = {**os.environ, "DAYU_CONFIG": str(config)}
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env, start_new_session=True)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        outcome = rt.stop(timeout=5)
        assert outcome == {"proc": "terminated"}, outcome
        assert orphan.wait(timeout=10) is not None
        assert bystander.poll() is None, "a process the launch did not start was stopped"
        assert not (rt.pid_dir / "proc.launching").exists()
    finally:
        for proc in (orphan, bystander):
            proc.kill()
            proc.wait(timeout=10)
