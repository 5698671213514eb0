"""Installer logic: two stages, failure reports, redeployment diff, and the lock uninstall waits for.

The runtime is an in-memory deployer (a test double that records what it is asked to run) and the
scheduler answers through httpx.MockTransport: the point here is the installer's sequencing, which the
whole-flow test (test_flow.py) exercises with real processes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.app import seed
from backend.deploy.base import Deployer, InstanceStatus
from backend.installer import Installer
from backend.planner import InstallRequest
from backend.store import Store
from backend.templates import load_template
from common.errors import Unavailable
from common.topology import Endpoint, NodeSpec, StaticTopology, Topology, TopologyModel
from common.transport import ServiceClient
from common.workload import Workload

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


class MemoryDeployer(Deployer):
    kind = "memory"

    def __init__(self, fail: set[str] | None = None) -> None:
        self.running: dict[str, Workload] = {}
        self.fail = fail or set()
        self.gate = asyncio.Event()
        self.gate.set()
        self.log: list[str] = []

    def nodes(self) -> dict[str, NodeSpec]:
        return {"cloud": NodeSpec(role="cloud"), "edge1": NodeSpec(role="edge"), "edge2": NodeSpec(role="edge")}

    async def apply(self, workloads: Sequence[Workload]) -> None:
        await self.gate.wait()
        for w in workloads:
            self.running[w.name] = w
            self.log.append(f"+{w.name}")

    async def remove(self, names: Sequence[str]) -> None:
        for n in names:
            self.running.pop(n, None)
            self.log.append(f"-{n}")

    async def remove_all(self) -> None:
        self.log.append("remove_all")
        self.running.clear()

    async def status(self) -> list[InstanceStatus]:
        return [
            InstanceStatus(name=n, component=w.component, node=w.node, ready=n not in self.fail,
                           phase="exited" if n in self.fail else "running", message="boom" if n in self.fail else "")
            for n, w in self.running.items()
        ]  # fmt: skip

    def topology(self) -> Topology | None:
        cloud = NodeSpec(role="cloud", components={"scheduler": Endpoint(host="sched", port=1)})
        return StaticTopology(TopologyModel(nodes={"cloud": cloud, "edge1": NodeSpec(role="edge")}))


def scheduler(deployments: list[dict[str, list[str]]]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.path == "/source-selection":
            return httpx.Response(
                200, json={"placement": {s["source_id"]: s["candidates"][-1] for s in body["sources"]}}
            )
        answer = deployments.pop(0) if len(deployments) > 1 else deployments[0]
        return httpx.Response(200, json={"deployment": answer, "deployment_version": 1})

    return httpx.MockTransport(handle)


def make(tmp_path: Path, deployer: MemoryDeployer, deployments: list[dict[str, list[str]]]) -> Installer:
    template = load_template(REPO / "template")
    store = Store(tmp_path / "db.sqlite3")
    seed(store, template)
    client = ServiceClient(transport=scheduler(deployments), retries=0)
    return Installer(template, store, deployer, client, token="t", datasource_url="http://ds")


async def settle(installer: Installer) -> dict[str, Any]:
    assert installer._task is not None
    await asyncio.wait_for(installer._task, 10)
    return installer.state()


async def test_two_stages_then_redeploy_diff(tmp_path: Path) -> None:
    deployer = MemoryDeployer()
    installer = make(tmp_path, deployer, [{"face-detection": ["edge1"]}, {"face-detection": ["cloud"]}])
    installer.start_install(InstallRequest(datasource="synthetic", dag="face-detection"))
    state = await settle(installer)
    assert state["phase"] == "installed", state
    first_stage2 = deployer.log.index("+controller-cloud")
    assert all(deployer.log.index(f"+{n}") < first_stage2 for n in ("scheduler", "distributor", "monitor-edge2"))
    assert state["placement"] == {"cam0": "edge2", "cam1": "edge2"}
    assert "processor-face-detection-edge1" in deployer.running
    assert not any(n.startswith("generator") for n in deployer.running)  # they start when opened
    assert {g["name"] for g in state["generators"]} == {"generator-cam0", "generator-cam1"}

    result = await installer.redeploy_once()
    assert result["added"] == ["processor-face-detection-cloud"]
    assert result["removed"] == ["processor-face-detection-edge1"]
    assert "processor-face-detection-edge1" not in deployer.running
    await installer.client.aclose()


async def test_uninstall_waits_for_a_redeployment_in_progress(tmp_path: Path) -> None:
    deployer = MemoryDeployer()
    installer = make(tmp_path, deployer, [{"face-detection": ["edge1"]}, {"face-detection": ["edge2"]}])
    installer.start_install(InstallRequest(datasource="synthetic", dag="face-detection"))
    await settle(installer)
    deployer.gate.clear()  # the redeployment's apply blocks until released
    redeploy = asyncio.create_task(installer.redeploy_once())
    await asyncio.sleep(0.05)
    uninstall = asyncio.create_task(installer.uninstall())
    await asyncio.sleep(0.1)
    assert not uninstall.done() and "remove_all" not in deployer.log
    deployer.gate.set()
    await asyncio.wait_for(redeploy, 5)
    await asyncio.wait_for(uninstall, 5)
    assert deployer.log[-1] == "remove_all" and installer.state()["phase"] == "uninstalled"
    await installer.client.aclose()


async def test_a_failing_stage_is_reported_and_cleaned_up(tmp_path: Path) -> None:
    deployer = MemoryDeployer(fail={"monitor-edge1"})
    installer = make(tmp_path, deployer, [{"face-detection": ["edge1"]}])
    installer.start_install(InstallRequest(datasource="synthetic", dag="face-detection"))
    state = await settle(installer)
    assert state["phase"] == "failed"
    assert state["error"]["detail"]["not_ready"] == [
        {"name": "monitor-edge1", "node": "edge1", "phase": "exited", "message": "boom"}
    ]
    assert deployer.running == {} and deployer.log[-1] == "remove_all"
    await installer.client.aclose()


async def test_opening_an_rtsp_camera_starts_its_generator_on_the_reported_rtsp_url(tmp_path: Path) -> None:
    """The datasource answers through httpx.MockTransport as datasource/app.py does (``rtsp_url`` in the
    answer of ``POST /streams/{id}/open``); the live RTSP path itself is tested in tests/datasource."""
    opened: list[dict[str, Any]] = []
    schedule = scheduler([{"face-detection": ["cloud"]}])

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host != "ds":
            return schedule.handle_request(request)
        opened.append({"path": request.url.path, "body": json.loads(request.content)})
        sid = request.url.path.split("/")[2]
        port = 8554 + len(opened)  # a fresh server, on a fresh port, at every open
        rtsp = f"rtsp://127.0.0.1:{port}/{sid}" if request.url.path.endswith("/open") else None
        return httpx.Response(200, json={"id": sid, "mode": "rtsp", "rtsp_url": rtsp})

    deployer = MemoryDeployer()
    installer = make(tmp_path, deployer, [{"face-detection": ["cloud"]}])
    await installer.client.aclose()
    installer.client = ServiceClient(transport=httpx.MockTransport(handle), retries=0)
    text = "name: cams\nsources:\n  - {id: cam0, mode: rtsp, dataset: synthetic}\n"
    config = {"name": "cams", "sources": [{"id": "cam0", "mode": "rtsp", "dataset": "synthetic"}]}
    installer.store.add_datasource("cams", "cams.yaml", text, config)
    installer.start_install(InstallRequest(datasource="cams", dag="face-detection"))
    assert (await settle(installer))["phase"] == "installed"

    await installer.set_open(True, ["cam0"])
    assert opened == [{"path": "/streams/cam0/open", "body": {"dataset": "synthetic", "mode": "rtsp"}}]
    source = deployer.running["generator-cam0"].config["source"]
    assert source == {"alias": "rtsp", "params": {"url": "rtsp://127.0.0.1:8555/cam0"}}
    (stored,) = installer.state()["generators"]
    assert stored["config"]["source"] == source

    # Closed and opened again: the stream gets a new server and the generator follows it.
    await installer.set_open(False, ["cam0"])
    assert "generator-cam0" not in deployer.running
    await installer.set_open(True, ["cam0"])
    assert deployer.running["generator-cam0"].config["source"]["params"]["url"] == "rtsp://127.0.0.1:8557/cam0"
    await installer.client.aclose()


async def test_an_rtsp_camera_without_a_reported_url_is_not_started(tmp_path: Path) -> None:
    schedule = scheduler([{"face-detection": ["cloud"]}])

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host != "ds":
            return schedule.handle_request(request)
        return httpx.Response(200, json={"id": "cam0", "mode": "rtsp", "rtsp_url": None})

    deployer = MemoryDeployer()
    installer = make(tmp_path, deployer, [{"face-detection": ["cloud"]}])
    await installer.client.aclose()
    installer.client = ServiceClient(transport=httpx.MockTransport(handle), retries=0)
    config = {"name": "cams", "sources": [{"id": "cam0", "mode": "rtsp", "dataset": "synthetic"}]}
    installer.store.add_datasource("cams", "cams.yaml", "", config)
    installer.start_install(InstallRequest(datasource="cams", dag="face-detection"))
    assert (await settle(installer))["phase"] == "installed"
    with pytest.raises(Unavailable, match="no RTSP URL"):
        await installer.set_open(True, ["cam0"])
    assert "generator-cam0" not in deployer.running
    await installer.client.aclose()
