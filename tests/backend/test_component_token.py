"""The components' token is not the API token: a real backend on loopback accepts it for reads and refuses
it for writes, sends it (not the API token) to the components and gives it to every workload; on a cluster
the Secret holds both and only the backend's pod gets the API token."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from backend.app import create_app
from backend.deploy import cluster
from backend.deploy.kube_render import COMPONENT_TOKEN_KEY, TOKEN_KEY, TOKEN_SECRET
from backend.deploy.offline import render_install
from backend.settings import BackendSettings
from backend.templates import load_template
from common.errors import ConfigError
from tests import loopback
from tests.backend.deploy.fake_cluster import cluster_nodes
from tests.servers import free_port

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
ADMIN, COMPONENTS = "admin-token-1", "component-token-2"
STAGES = {"stages": [{"name": "det", "service": "face-detection"}]}


def settings(tmp_path: Path, port: int, component_token: str | None) -> BackendSettings:
    return BackendSettings(
        host="127.0.0.1",
        port=port,
        token=ADMIN,
        component_token=component_token,
        template=REPO / "template",
        state_dir=tmp_path / "state",
        run_dir=tmp_path / "run",
        deployer="local",
        static_dir=tmp_path / "no-dashboard",
    )


def test_the_backend_refuses_writes_with_the_components_token(tmp_path: Path) -> None:
    port = free_port()
    app = create_app(settings(tmp_path, port, COMPONENTS))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started

        def call(method: str, path: str, token: str | None, **kw: object) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return loopback.request(method, f"{url}{path}", headers=headers, timeout=10, **kw)  # type: ignore[arg-type]

        assert call("GET", "/api/dags", COMPONENTS).status_code == 200
        refused = call("POST", "/api/dags", COMPONENTS, json={"name": "x", "stages": STAGES})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        assert call("GET", "/api/dags/x", ADMIN).status_code == 404  # refused before anything changed
        assert call("POST", "/api/dags", None, json={"name": "x", "stages": STAGES}).status_code == 401
        assert call("POST", "/api/dags", "wrong", json={"name": "x", "stages": STAGES}).status_code == 401
        assert call("POST", "/api/dags", ADMIN, json={"name": "x", "stages": STAGES}).status_code == 201
        assert call("DELETE", "/api/dags/x", COMPONENTS).status_code == 403
        # what the backend sends to components, and what the workloads it plans get
        assert app.state.client._authorization == f"Bearer {COMPONENTS}"
        assert app.state.plane.installer.token == COMPONENTS
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def test_the_two_tokens_must_differ(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must differ"):
        create_app(settings(tmp_path, free_port(), ADMIN))


def test_on_a_cluster_only_the_backend_gets_the_api_token() -> None:
    files = render_install(
        load_template(REPO / "template"),
        "native",
        nodes_data={"kind": "List", "items": cluster_nodes()},
        token=ADMIN,
    )
    objs = [o for objs in files.values() for o in objs]
    secret = next(o for o in objs if o["kind"] == "Secret")
    assert secret["metadata"]["name"] == TOKEN_SECRET
    assert set(secret["stringData"]) == {TOKEN_KEY, COMPONENT_TOKEN_KEY}
    assert secret["stringData"][TOKEN_KEY] == ADMIN != secret["stringData"][COMPONENT_TOKEN_KEY]
    for obj in objs:
        if obj["kind"] != "Deployment":
            continue
        env = {e["name"]: e for e in obj["spec"]["template"]["spec"]["containers"][0]["env"]}
        keys = {n: e["valueFrom"]["secretKeyRef"]["key"] for n, e in env.items() if "valueFrom" in e}
        if obj["metadata"]["name"] == "backend":
            assert keys == {"DAYU_TOKEN": TOKEN_KEY, "DAYU_COMPONENT_TOKEN": COMPONENT_TOKEN_KEY}
        else:
            assert keys == {"DAYU_TOKEN": COMPONENT_TOKEN_KEY}, obj["metadata"]["name"]
    with pytest.raises(ConfigError, match="must differ"):
        cluster.control_plane_manifests(load_template(REPO / "template"), "master", "same", "same")
