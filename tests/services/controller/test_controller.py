"""The controller as a real server on loopback, with small real FastAPI apps standing in for the processor
and the distributor (they record what they receive), so routing, joins, drops and timing are checked exactly.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from common.dag import DagSpec, ServiceType, build_dag
from common.results import SegmentResult
from common.task import Payload, Task
from services.controller.app import create_app
from services.controller.cleanup import remove_old_files
from services.controller.config import ControllerConfig, ControllerSettings
from tests import loopback
from tests.e2e.cluster import wait_until
from tests.servers import free_port, serve

pytestmark = pytest.mark.integration

SERVICES = ["svc-a", "svc-b", "svc-c", "svc-d", "slow", "busy"]
CATALOG = {s: ServiceType(input="any", output="any") for s in [*SERVICES, "ghost"]}


class Recorder:
    def __init__(self) -> None:
        self.results: list[dict[str, Any]] = []
        self.drops: list[dict[str, Any]] = []
        self.processed: list[tuple[str, str]] = []


def fake_processor(rec: Recorder, work_dirs: dict[int, Path]) -> FastAPI:
    app = FastAPI()

    @app.post("/process")
    async def process(request: Request) -> JSONResponse:
        task = Task.model_validate_json(await request.body())
        port = request.url.port or 0
        assert (work_dirs[port] / (task.payload.file_name or "")).is_file(), "segment must be in the node's work dir"
        service = task.stage.service
        rec.processed.append((task.cursor, service))
        if service == "busy":
            return JSONResponse({"error": {"code": "overloaded", "message": "queue full"}}, status_code=503)
        if service == "slow":
            await asyncio.sleep(1.0)
        task.stage.result = SegmentResult(application=service, extra={"upstream": task.came_from})
        await asyncio.sleep(0.003)  # really spends the queue + service time it reports below
        task.stage.timings.queue, task.stage.timings.service = 0.001, 0.002
        task.stage.done = True
        return JSONResponse(json.loads(task.to_json()))

    return app


def fake_distributor(rec: Recorder) -> FastAPI:
    app = FastAPI()

    @app.post("/results")
    async def results(request: Request) -> dict[str, str]:
        rec.results.append(json.loads(await request.body()))
        return {"ok": "yes"}

    @app.post("/drops")
    async def drops(request: Request) -> dict[str, str]:
        rec.drops.append(json.loads(await request.body()))
        return {"ok": "yes"}

    return app


class Cluster:
    def __init__(self, tmp: Path, config: ControllerConfig, *, edge: bool = False, bandwidth: float | None = None):
        self.rec = Recorder()
        self.tmp = tmp
        self.stack = ExitStack()
        ports = {n: free_port() for n in ("cloud", "edge", "proc-cloud", "proc-edge", "dist")}
        self.work = {"cloud": tmp / "cloud", "edge": tmp / "edge"}
        for d in self.work.values():
            d.mkdir()
        nodes: dict[str, Any] = {
            "cloud": {
                "role": "cloud",
                "components": {"controller": {"port": ports["cloud"]}, "distributor": {"port": ports["dist"]}},
                "processors": {s: {"port": ports["proc-cloud"]} for s in SERVICES},
            }
        }
        links = []
        if edge:
            nodes["edge"] = {
                "role": "edge",
                "components": {"controller": {"port": ports["edge"]}},
                "processors": {"svc-a": {"port": ports["proc-edge"]}},
            }
            links.append({"a": "cloud", "b": "edge", "bandwidth_mbps": bandwidth})
        topology = tmp / "topology.json"
        topology.write_text(json.dumps({"nodes": nodes, "links": links}))
        work_by_port = {ports["proc-cloud"]: self.work["cloud"], ports["proc-edge"]: self.work["edge"]}
        self.stack.enter_context(serve(fake_processor(self.rec, work_by_port), ports["proc-cloud"]))
        self.stack.enter_context(serve(fake_processor(self.rec, work_by_port), ports["proc-edge"]))
        self.stack.enter_context(serve(fake_distributor(self.rec), ports["dist"]))
        self.urls = {}
        for node in ["cloud", "edge"] if edge else ["cloud"]:
            settings = ControllerSettings(
                node=node, port=ports[node], topology=str(topology), work_dir=self.work[node], config=None
            )
            self.urls[node] = self.stack.enter_context(serve(create_app(settings, config), ports[node]))

    def submit(self, task: Task, node: str = "cloud", size: int = 1000) -> httpx.Response:
        name = task.payload.file_name or ""
        (self.work[node] / name).write_bytes(os.urandom(size))
        return loopback.post(self.urls[node] + "/tasks", json=json.loads(task.to_json()), timeout=10)


def make_task(spec: dict[str, Any], task_id: int = 0, *, nodes: dict[str, str] | None = None) -> Task:
    dag = build_dag(DagSpec.model_validate(spec), CATALOG)
    for name, node in (nodes or {}).items():
        dag[name].node = node
    dag["_start"].node = (nodes or {}).get("_start", "cloud")
    return Task(
        source_id="src",
        task_id=task_id,
        source_node=dag["_start"].node,
        dag=dag,
        payload=Payload(file_name=f"seg-{task_id}.mp4", frame_indices=[0, 1]),
    )


FORK_JOIN = {
    "stages": [
        {"name": "a", "service": "svc-a", "next": ["b", "c"]},
        {"name": "b", "service": "svc-b", "next": ["d"]},
        {"name": "c", "service": "svc-c", "next": ["d"]},
        {"name": "d", "service": "svc-d"},
    ]
}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Joins wait far longer than any branch takes on a loaded machine: a join here completes or a branch is
    dropped, never timed out by the machine's speed (the timeout has its own cluster below)."""
    c = Cluster(tmp_path, ControllerConfig(join_timeout_s=300))
    with c.stack:
        yield c


def test_fork_and_join_reach_the_distributor_once_with_every_branch(cluster: Cluster) -> None:
    response = cluster.submit(make_task(FORK_JOIN))
    assert response.status_code == 202 and response.json()["outcome"] == "accepted"
    wait_until(lambda: cluster.rec.results, timeout=60, what="the result")
    time.sleep(0.2)
    assert len(cluster.rec.results) == 1 and not cluster.rec.drops
    done = Task.from_dict(cluster.rec.results[0])
    assert done.cursor == "_end"
    assert sorted(cluster.rec.processed) == [("a", "svc-a"), ("b", "svc-b"), ("c", "svc-c"), ("d", "svc-d")]
    for name in "abcd":
        assert done.dag[name].done and done.dag[name].timings.execute is not None
        assert done.dag[name].timings.execute >= done.dag[name].timings.service  # type: ignore[operator]
    assert done.dag["b"].result == SegmentResult(application="svc-b", extra={"upstream": "a"})
    assert done.dag["c"].result == SegmentResult(application="svc-c", extra={"upstream": "a"})


def test_a_repeated_delivery_is_ignored(cluster: Cluster) -> None:
    task = make_task({"stages": [{"name": "a", "service": "svc-a"}]})
    assert cluster.submit(task).json()["outcome"] == "accepted"
    assert cluster.submit(task).json()["outcome"] == "duplicate"
    wait_until(lambda: cluster.rec.results, timeout=60, what="the result")
    time.sleep(0.2)
    assert len(cluster.rec.results) == 1


def test_a_service_deployed_nowhere_becomes_a_drop_record(cluster: Cluster) -> None:
    cluster.submit(make_task({"stages": [{"name": "g", "service": "ghost"}]}))
    drops = wait_until(lambda: cluster.rec.drops, timeout=60, what="the drop")
    assert drops[0]["reason"] == "service_missing" and "ghost" in drops[0]["message"]
    assert not cluster.rec.results


def test_a_full_processor_queue_drops_the_branch_and_its_waiting_sibling(cluster: Cluster) -> None:
    spec = {
        "stages": [
            {"name": "a", "service": "svc-a", "next": ["b", "c"]},
            {"name": "b", "service": "svc-b", "next": ["d"]},
            {"name": "c", "service": "busy", "next": ["d"]},
            {"name": "d", "service": "svc-d"},
        ]
    }
    cluster.submit(make_task(spec))
    drops = wait_until(lambda: cluster.rec.drops if len(cluster.rec.drops) >= 2 else None, timeout=60, what="2 drops")
    reasons = sorted(d["reason"] for d in drops)
    assert reasons == ["branch_dropped", "queue_full"], reasons  # the sibling goes at once, not at the timeout
    assert not cluster.rec.results
    status = loopback.get(cluster.urls["cloud"] + "/status").json()
    assert status["joins_pending"] == 0


def test_a_join_missing_a_branch_times_out_as_a_drop(tmp_path: Path) -> None:
    """A short timeout: whatever the machine's load, the lone branch can only end as a join_timeout drop."""
    cluster = Cluster(tmp_path, ControllerConfig(join_timeout_s=0.5))
    with cluster.stack:
        task = make_task(FORK_JOIN).with_cursor("b").with_cursor("d")  # arrives at d from b only
        task.task_uuid = "b" * 32
        cluster.submit(task)
        drops = wait_until(lambda: cluster.rec.drops, timeout=60, what="the join timeout")
    assert drops[0]["reason"] == "join_timeout" and "missing ['c']" in drops[0]["message"]
    assert not cluster.rec.results


def test_beyond_max_in_flight_a_task_is_dropped_as_overloaded(tmp_path: Path) -> None:
    c = Cluster(tmp_path, ControllerConfig(max_in_flight=1))
    with c.stack:
        spec = {"stages": [{"name": "s", "service": "slow"}]}
        assert c.submit(make_task(spec, 0)).json()["outcome"] == "accepted"
        assert c.submit(make_task(spec, 1)).json()["outcome"] == "overloaded"
        drops = wait_until(lambda: c.rec.drops, timeout=60, what="the overload drop")
        assert drops[0]["reason"] == "overloaded" and drops[0]["task_id"] == 1
        wait_until(lambda: c.rec.results, timeout=60, what="the first task")


def test_a_stage_on_another_node_is_uploaded_over_the_shaped_link(tmp_path: Path) -> None:
    """Edge runs a, the cloud runs b; 1 MB over a 40 Mbit/s link takes at least 0.2 s of transmit."""
    c = Cluster(tmp_path, ControllerConfig(), edge=True, bandwidth=40.0)
    with c.stack:
        spec = {"stages": [{"name": "a", "service": "svc-a", "next": ["b"]}, {"name": "b", "service": "svc-b"}]}
        task = make_task(spec, nodes={"_start": "edge", "a": "edge", "b": "cloud"})
        c.submit(task, node="edge", size=1_000_000)
        result = Task.from_dict(wait_until(lambda: c.rec.results, timeout=60, what="the result")[0])
        assert result.dag["a"].node == "edge" and result.dag["b"].node == "cloud"
        assert result.dag["a"].timings.transmit is None
        assert result.dag["b"].timings.transmit is not None and result.dag["b"].timings.transmit >= 0.2
        assert (c.work["cloud"] / "seg-0.mp4").stat().st_size == 1_000_000


def test_a_result_finished_on_the_edge_crosses_the_link_without_its_segment(tmp_path: Path) -> None:
    """Only the task goes to the cloud (shaped by its own bytes); the segment stays on the edge for display."""
    c = Cluster(tmp_path, ControllerConfig(), edge=True, bandwidth=0.5)
    with c.stack:
        task = make_task({"stages": [{"name": "a", "service": "svc-a"}]}, nodes={"_start": "edge", "a": "edge"})
        c.submit(task, node="edge", size=1_000_000)  # 16 s over 0.5 Mbit/s if it crossed
        result = Task.from_dict(wait_until(lambda: c.rec.results, timeout=60, what="the result")[0])
        assert result.dag["a"].node == "edge" and result.dag["a"].done
        assert not (c.work["cloud"] / "seg-0.mp4").exists()
        task_bits = len(result.to_json()) * 8
        assert 0.5 * task_bits / 0.5e6 < (result.dag["_end"].timings.transmit or 0.0) < 5.0
        kept = loopback.get(c.urls["edge"] + "/files/seg-0.mp4", timeout=10)
        assert kept.status_code == 200 and kept.content == (c.work["edge"] / "seg-0.mp4").read_bytes()
        missing = loopback.get(c.urls["edge"] + "/files/seg-9.mp4", timeout=10)
        assert missing.status_code == 404 and "seg-9.mp4" in missing.json()["error"]["message"]
        assert loopback.get(c.urls["edge"] + "/files/..", timeout=10).status_code in (400, 404)


def test_results_carry_their_segment_when_configured(tmp_path: Path) -> None:
    c = Cluster(tmp_path, ControllerConfig(results_carry_segment=True), edge=True, bandwidth=40.0)
    with c.stack:
        task = make_task({"stages": [{"name": "a", "service": "svc-a"}]}, nodes={"_start": "edge", "a": "edge"})
        c.submit(task, node="edge", size=100_000)
        wait_until(lambda: c.rec.results, timeout=60, what="the result")
        assert (c.work["cloud"] / "seg-0.mp4").stat().st_size == 100_000


def test_a_transfer_the_link_cannot_carry_in_time_is_dropped_as_overloaded(tmp_path: Path) -> None:
    """1 MB over 0.1 Mbit/s would hold the sender 80 s, past the 60 s a transfer may wait: dropped at once."""
    c = Cluster(tmp_path, ControllerConfig(), edge=True, bandwidth=0.1)
    with c.stack:
        spec = {"stages": [{"name": "a", "service": "svc-a", "next": ["b"]}, {"name": "b", "service": "svc-b"}]}
        task = make_task(spec, nodes={"_start": "edge", "a": "edge", "b": "cloud"})
        c.submit(task, node="edge", size=1_000_000)
        drops = wait_until(lambda: c.rec.drops, timeout=60, what="the drop record")
        record = drops[0]
        assert record["reason"] == "overloaded", record
        assert "link edge--cloud is saturated" in record["message"]
        assert not c.rec.results


def test_a_service_missing_on_the_planned_edge_falls_back_to_the_cloud(tmp_path: Path) -> None:
    c = Cluster(tmp_path, ControllerConfig(), edge=True)
    with c.stack:
        task = make_task({"stages": [{"name": "b", "service": "svc-b"}]}, nodes={"_start": "edge", "b": "edge"})
        c.submit(task, node="edge")
        result = Task.from_dict(wait_until(lambda: c.rec.results, timeout=60, what="the result")[0])
        assert result.dag["b"].node == "cloud" and result.dag["b"].done


def test_old_segment_files_are_removed(tmp_path: Path) -> None:
    old, new = tmp_path / "old.mp4", tmp_path / "new.mp4"
    old.write_bytes(b"x")
    new.write_bytes(b"x")
    os.utime(old, (time.time() - 100, time.time() - 100))
    assert remove_old_files(tmp_path, 50) == 1
    assert not old.exists() and new.exists()
    assert remove_old_files(tmp_path / "missing", 50) == 0
