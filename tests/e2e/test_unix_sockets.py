"""Same-node hops over Unix domain sockets between real processes (local runtime), cross-node hops on TCP
and shaped. One source on edge1, every stage on edge1 (``edge-only``), results to the cloud's distributor.
Nothing is faked: each component counts the connections it accepted by listener on its ``/metrics``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from backend.local_runtime.runtime import LocalRuntime
from common.task import END, Task
from tests import loopback
from tests.e2e.cluster import LINKS, NODES, deployment, wait_until, write_video
from tests.e2e.test_pipeline import all_records

pytestmark = pytest.mark.e2e


def connections(rt: LocalRuntime, name: str) -> dict[str, float]:
    """What ``name`` accepted, by listener; asked over TCP, where health and metrics stay."""
    text = loopback.get(rt.url(name) + "/metrics", timeout=10).text
    return {m[1]: float(m[2]) for m in re.finditer(r'dayu_connections_total\{listener="(\w+)"\} ([0-9.e+]+)', text)}


def test_same_node_hops_use_unix_sockets_and_cross_node_hops_stay_tcp_and_shaped(tmp_path: Path) -> None:
    video = write_video(tmp_path / "s1.mp4", frames=12)
    rt = LocalRuntime(tmp_path / "run")
    workloads = deployment("edge-only", {"s1": ("edge1", video)})
    rt.start(NODES, LINKS, workloads, timeout=60)
    try:
        topology = json.loads(rt.topology_path.read_text())
        edge = topology["nodes"]["edge1"]
        assert edge["components"]["controller"]["socket"], edge
        assert all(p["socket"] for p in edge["processors"].values()), edge
        assert edge["components"]["generator/s1"]["socket"] is None  # called by the backend only

        def finished() -> dict[str, object] | None:
            status = loopback.get(rt.url("gen-s1") + "/status", timeout=5).json()
            return status if status["finished"] else None

        status = wait_until(finished, timeout=60, what="the generator to finish")
        records = wait_until(
            lambda: (lambda r: r if len(r) >= status["tasks_created"] else None)(all_records(rt)),
            timeout=60,
            what="a record of every task",
        )
        results = [r for r in records if r["kind"] == "result"]
        assert results, records

        # generator -> controller and controller -> processor on edge1: sockets.
        assert connections(rt, "controller-edge1").get("unix", 0) >= 1
        for w in workloads:
            if w.component == "processor":
                assert connections(rt, w.name).get("unix", 0) >= 1, w.name
        # edge1 -> cloud: TCP (nothing on the cloud node calls its controller), then the cloud controller
        # hands the result to the distributor beside it through its socket.
        assert connections(rt, "controller-cloud").get("unix", 0) == 0
        assert connections(rt, "controller-cloud").get("tcp", 0) >= 1
        assert connections(rt, "distributor").get("unix", 0) >= 1
        # The cross-node hop was shaped: the result's time on the edge1-cloud link covers its latency.
        link_latency_s = next(x["latency_ms"] for x in LINKS if {x["a"], x["b"]} == {"cloud", "edge1"}) / 1000
        for record in results:
            task = Task.from_dict(record["task"])
            assert (task.dag[END].timings.transmit or 0.0) >= link_latency_s, task.dag[END].timings
    finally:
        rt.stop()
