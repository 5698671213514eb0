"""The compose deployer maps an install onto the running containers named by the compose topology and reads
their health for real (a loopback HTTP server stands in for the containers' /health)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.deploy.compose import ComposeDeployer
from backend.deploy.factory import make_deployer
from backend.settings import BackendSettings
from backend.templates import load_template
from common.errors import ConfigError
from common.topology import StaticTopology
from common.workload import Workload

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def health_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def topology(port: int) -> str:
    ep = f'{{"host": "127.0.0.1", "port": {port}}}'
    dead = '{"host": "127.0.0.1", "port": 9}'
    return (
        '{"nodes": {"cloud": {"role": "cloud", "components": {"scheduler": ' + ep + "}},"
        ' "edge1": {"role": "edge", "components": {"generator/cam0": ' + dead + "},"
        ' "processors": {"face-detection": ' + ep + "}}}}"
    )


async def test_installs_map_onto_the_stack_and_report_health(health_port: int) -> None:
    settings = BackendSettings(deployer="compose", topology=topology(health_port), token="t")
    deployer = make_deployer(settings, load_template(REPO / "template"))
    assert isinstance(deployer, ComposeDeployer)
    assert {n: s.role for n, s in deployer.nodes().items()} == {"cloud": "cloud", "edge1": "edge"}
    scheduler = Workload(name="scheduler", component="scheduler", node="cloud")
    processor = Workload(name="processor-face-detection-edge1", component="processor", node="edge1",
                         service="face-detection")  # fmt: skip
    generator = Workload(name="generator-cam0", component="generator", node="edge1", source_id="cam0")
    await deployer.apply([scheduler, processor, generator])
    ready = {s.name: s.ready for s in await deployer.status()}
    assert ready == {"scheduler": True, "processor-face-detection-edge1": True, "generator-cam0": False}
    topo = deployer.topology()
    assert topo is not None and topo.component_url("scheduler") == f"http://127.0.0.1:{health_port}"
    other = Workload(name="processor-text-detection-edge1", component="processor", node="edge1",
                     service="text-detection")  # fmt: skip
    with pytest.raises(ConfigError, match="runs no text-detection on node 'edge1'"):
        await deployer.apply([other, scheduler])
    await deployer.remove_all()
    assert await deployer.status() == []


def test_compose_needs_its_topology() -> None:
    with pytest.raises(ConfigError, match="DAYU_TOPOLOGY"):
        make_deployer(BackendSettings(deployer="compose", topology=None), load_template(REPO / "template"))
    assert isinstance(StaticTopology.from_text(topology(1)), StaticTopology)
