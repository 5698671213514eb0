"""Installer logic: two stages, failure reports, redeployment diff, and the lock uninstall waits for.

The runtime is an in-memory deployer (a test double that records what it is asked to run) and the
scheduler, the datasource and the generators answer through httpx.MockTransport: the point here is the
installer's sequencing, which the whole-flow test (test_flow.py) exercises with real processes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from backend.app import seed
from backend.contracts.install import InstallRequest
from backend.deploy.base import Deployer, InstanceStatus
from backend.install import Installer
from backend.store import Store
from backend.templates import load_template
from common.contracts.datasource import StreamClosed, StreamInfo, StreamOpen
from common.contracts.generator import SourceChanged
from common.contracts.ops import OutboxStatus
from common.errors import DayuError, Unavailable
from common.plan import Plan
from common.task import RawMeta
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
        """The scheduler at host ``sched``; each running generator at its workload name as the host."""
        nodes = {n: NodeSpec(role=spec.role) for n, spec in self.nodes().items()}
        nodes["cloud"].components["scheduler"] = Endpoint(host="sched", port=1)
        for w in self.running.values():
            if w.component == "generator":
                nodes[w.node].components[w.topology_key()] = Endpoint(host=w.name, port=1)
        return StaticTopology(TopologyModel(nodes=nodes))


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
    return installer.state().model_dump(mode="json")


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
    generators = [deployer.running[n] for n in ("generator-cam0", "generator-cam1")]  # stage 2 too
    assert all(deployer.log.index(f"+{w.name}") > first_stage2 and w.node == "edge2" for w in generators)
    assert all(w.config["autostart"] is False for w in generators)  # they read once the datasource is open
    assert {w["name"] for w in state["workloads"]} >= {"generator-cam0", "generator-cam1"}

    result = await installer.redeploy_once()
    assert result.added == ["processor-face-detection-cloud"]
    assert result.removed == ["processor-face-detection-edge1"]
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
    assert deployer.log[-1] == "remove_all" and installer.state().phase == "uninstalled"
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


class Peers:
    """The datasource (host ``ds``) and the generators (host = workload name) as httpx.MockTransport handlers
    answering as datasource/app.py and services/generator/app.py do; every call is logged in order."""

    def __init__(self, *, rtsp: bool = True, rtsp_url: bool = True, failing: frozenset[str] = frozenset()) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.rtsp = rtsp
        self.rtsp_url = rtsp_url
        self.failing = failing
        self.schedule = scheduler([{"face-detection": ["cloud"]}])

    def handle(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host == "sched":
            return self.schedule.handle_request(request)
        body = json.loads(request.content) if request.content else None
        self.calls.append((host, request.url.path, body))
        if host in self.failing:
            return httpx.Response(503, json={"error": {"code": "unavailable", "message": "camera unreachable"}})
        if host == "ds":
            sid = request.url.path.split("/")[2]
            if not path_is_open(request):
                return httpx.Response(200, content=StreamClosed(id=sid, closed=True).model_dump_json())
            opens = sum(1 for h, path, _ in self.calls if h == "ds" and path.endswith("/open"))
            # A fresh RTSP server, on a fresh port, at every open.
            url = f"rtsp://127.0.0.1:{8554 + opens}/{sid}" if self.rtsp_url else None
            return httpx.Response(200, content=stream_info(sid, "rtsp" if self.rtsp else "http", url).model_dump_json())
        return httpx.Response(200, content=source_changed(host, path_is_open(request)).model_dump_json())

    def of(self, host: str) -> list[tuple[str, Any]]:
        return [(path, body) for h, path, body in self.calls if h == host]


def stream_info(sid: str, mode: Literal["http", "rtsp"], rtsp_url: str | None) -> StreamInfo:
    return StreamInfo(
        id=sid, mode=mode, play="cycle", dataset="synthetic", url=None, width=1280, height=720, resolution="720p",
        fps=30.0, frames=300, ground_truth=True, clients=[], rtsp_url=rtsp_url,
    )  # fmt: skip


def source_changed(generator: str, opened: bool) -> SourceChanged:
    """A generator's reply to open/close; its counters and timings (whatever the contract lists) are zero,
    its other required text fields empty."""
    outbox = {name: 0 for name in OutboxStatus.model_fields}
    given: dict[str, Any] = dict(
        source_id=generator.removeprefix("generator-"), node="edge2", state="running" if opened else "closed",
        open=opened, error=None, source="http", raw_meta=RawMeta(), outbox=outbox, finished=False, plan=Plan(),
        plan_error=None, changed=True,
    )  # fmt: skip
    numbers = {
        name: "" if field.annotation is str else 0
        for name, field in SourceChanged.model_fields.items()
        if name not in given and field.is_required()
    }
    return SourceChanged.model_validate({**given, **numbers})


def path_is_open(request: httpx.Request) -> bool:
    return request.url.path.endswith("/open")


async def installed_with(
    tmp_path: Path, peers: Peers, config: dict[str, Any] | None
) -> tuple[Installer, MemoryDeployer]:
    deployer = MemoryDeployer()
    installer = make(tmp_path, deployer, [{"face-detection": ["cloud"]}])
    await installer.client.aclose()
    installer.client = ServiceClient(transport=httpx.MockTransport(peers.handle), retries=0)
    name = "synthetic"
    if config is not None:
        name = config["name"]
        installer.store.add_datasource(name, f"{name}.yaml", "", config)
    installer.start_install(InstallRequest(datasource=name, dag="face-detection"))
    assert (await settle(installer))["phase"] == "installed"
    assert peers.calls == []  # installing opens nothing
    return installer, deployer


def opening(mode: Literal["http", "rtsp"]) -> dict[str, Any]:
    """The body of ``POST /streams/{id}/open`` for a simulated camera of the synthetic dataset."""
    return StreamOpen(dataset="synthetic", mode=mode).model_dump(mode="json")


RTSP_CAMS = {"name": "cams", "sources": [{"id": "cam0", "mode": "rtsp", "dataset": "synthetic"}]}


async def test_opening_an_rtsp_camera_gives_its_generator_the_reported_rtsp_url(tmp_path: Path) -> None:
    peers = Peers()
    installer, deployer = await installed_with(tmp_path, peers, RTSP_CAMS)
    generator = deployer.running["generator-cam0"]
    assert generator.config["source"] == {"alias": "rtsp", "params": {}} and generator.config["autostart"] is False

    await installer.open_sources(["cam0"])
    assert peers.calls == [
        ("ds", "/streams/cam0/open", opening("rtsp")),
        ("generator-cam0", "/source/open", {"params": {"url": "rtsp://127.0.0.1:8555/cam0"}}),
    ]
    # Closed: the generator stops reading before its stream goes away; nothing is redeployed.
    await installer.close_sources()
    assert peers.calls[2:] == [("generator-cam0", "/source/close", None), ("ds", "/streams/cam0/close", None)]
    assert deployer.running["generator-cam0"] is generator
    # Opened again: the stream gets a new server and the generator reads from it.
    await installer.open_sources(["cam0"])
    assert peers.of("generator-cam0")[-1] == ("/source/open", {"params": {"url": "rtsp://127.0.0.1:8556/cam0"}})
    await installer.client.aclose()


async def test_an_rtsp_camera_without_a_reported_url_is_not_read_and_its_stream_is_closed(tmp_path: Path) -> None:
    peers = Peers(rtsp_url=False)
    installer, _ = await installed_with(tmp_path, peers, RTSP_CAMS)
    with pytest.raises(Unavailable, match="no RTSP URL"):
        await installer.open_sources(["cam0"])
    assert ("/source/open", {"params": {}}) not in peers.of("generator-cam0")
    assert [path for path, _ in peers.of("ds")] == ["/streams/cam0/open", "/streams/cam0/close"]
    await installer.client.aclose()


async def test_a_generator_that_cannot_open_closes_what_this_open_opened(tmp_path: Path) -> None:
    """http cameras of the default datasource: their URL is in the generator's config, open sends none."""
    peers = Peers(rtsp=False, failing=frozenset({"generator-cam1"}))
    installer, _ = await installed_with(tmp_path, peers, None)
    with pytest.raises(DayuError, match="camera unreachable"):
        await installer.open_sources(["cam0", "cam1"])
    assert peers.calls == [
        ("ds", "/streams/cam0/open", opening("http")),
        ("generator-cam0", "/source/open", {"params": {}}),
        ("ds", "/streams/cam1/open", opening("http")),
        ("generator-cam1", "/source/open", {"params": {}}),
        ("generator-cam1", "/source/close", None),
        ("ds", "/streams/cam1/close", None),
        ("generator-cam0", "/source/close", None),
        ("ds", "/streams/cam0/close", None),
    ]
    await installer.client.aclose()


async def test_closing_goes_on_past_a_generator_that_does_not_answer(tmp_path: Path) -> None:
    peers = Peers(rtsp=False)
    installer, _ = await installed_with(tmp_path, peers, None)
    await installer.open_sources(["cam0", "cam1"])
    peers.failing = frozenset({"generator-cam0"})
    await installer.close_sources()
    closing = peers.calls[4:]
    for sid in ("cam0", "cam1"):  # each stream closes after its generator (the sources side by side)
        mine = [(host, path) for host, path, _ in closing if sid in host or sid in path]
        assert mine == [(f"generator-{sid}", "/source/close"), ("ds", f"/streams/{sid}/close")], closing
    assert len(closing) == 4
    await installer.client.aclose()
