"""A component listening on TCP and a Unix domain socket at once (``common.listen.serve``), in a real process,
and ``ServiceClient`` reaching it through ``http+unix://``; the topology hands out the socket only to callers
on the component's own node."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from common.errors import ConfigError, TransportError
from common.listen import bind_unix
from common.topology import Endpoint, NodeSpec, StaticTopology, TopologyModel, unix_url
from common.transport import ServiceClient
from tests import loopback
from tests.servers import free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
APP = textwrap.dedent(
    """
    from fastapi import APIRouter, Request

    from common.config import ServiceSettings
    from common.listen import serve
    from common.service import create_service

    router = APIRouter()

    @router.post("/echo")
    async def echo(request: Request, n: int = 0) -> dict[str, object]:
        return {"n": n, "body": (await request.body()).decode()}

    settings = ServiceSettings()
    serve(create_service("echo", settings, routers=[router]), settings)
    """
)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A folder whose socket paths fit ``sun_path`` whatever pytest's temporary folder is called."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="dayu-uds-") as folder:
        yield Path(folder)


def wait_for(check, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the server did not come up"
        time.sleep(0.05)


def connections(base: str) -> dict[str, float]:
    text = loopback.get(f"{base}/metrics", timeout=10).text
    return {m[1]: float(m[2]) for m in re.finditer(r'dayu_connections_total\{listener="(\w+)"\} ([0-9.e+]+)', text)}


def answers(base: str) -> bool:
    try:
        return loopback.get(f"{base}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def test_one_process_answers_on_tcp_and_its_socket(tmp_path: Path, short_dir: Path) -> None:
    script = tmp_path / "echo_app.py"
    script.write_text(APP)
    sock, port = short_dir / "echo.sock", free_port()
    env = {**os.environ, "DAYU_PORT": str(port), "DAYU_UDS": str(sock), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(base) and sock.exists())
        async with ServiceClient() as client:
            reply = await client.request("POST", unix_url(str(sock)) + "/echo", params={"n": 3}, content=b"hi")
            again = await client.request("POST", unix_url(str(sock)) + "/echo?n=4", json={"k": 1})
        assert reply.json() == {"n": 3, "body": "hi"} and again.json() == {"n": 4, "body": '{"k":1}'}
        counted = connections(base)  # /metrics and /health stay on TCP
        assert counted.get("unix", 0) >= 1 and counted.get("tcp", 0) >= 1, counted
        assert (sock.stat().st_mode & 0o777) == 0o600
    finally:
        proc.terminate()
        proc.wait(30)
    assert not sock.exists(), "the socket is removed when its process stops"


async def test_a_socket_nobody_listens_on_is_a_connect_error_retried_for_any_method(short_dir: Path) -> None:
    dead = short_dir / "nobody.sock"
    listener = bind_unix(dead)  # bound, never listening: connecting is refused
    try:
        async with ServiceClient(retries=2, backoff=0.01) as client:
            with pytest.raises(TransportError, match="after 3 attempt") as err:
                await client.request("POST", unix_url(str(dead)) + "/x", content=b"x")
        assert err.value.status_code == 502
    finally:
        listener.close()
    async with ServiceClient(retries=0) as client:
        with pytest.raises(TransportError, match="bad URL"):
            await client.request("GET", "http+unix:///x")


def test_a_stale_socket_is_replaced_and_anything_else_refused(short_dir: Path) -> None:
    path = short_dir / "a.sock"
    first = bind_unix(path)
    first.close()  # its file stays behind, as after a kill -9
    second = bind_unix(path)
    assert second.family == socket.AF_UNIX and path.exists()
    second.close()
    plain = short_dir / "plain"
    plain.write_text("keep me")
    with pytest.raises(ConfigError, match="not a socket"):
        bind_unix(plain)
    assert plain.read_text() == "keep me"
    with pytest.raises(ConfigError, match="longer than"):
        bind_unix(short_dir / ("x" * 120))


def test_the_socket_is_used_only_from_the_components_own_node() -> None:
    def endpoint(port: int, sock: str | None) -> Endpoint:
        return Endpoint(port=port, socket=sock)

    model = TopologyModel(
        nodes={
            "cloud": NodeSpec(role="cloud", components={"controller": endpoint(1001, "/s/c.sock")}),
            "edge1": NodeSpec(
                role="edge",
                components={"controller": endpoint(1002, "/s/e.sock"), "monitor": endpoint(1003, None)},
                processors={"face": endpoint(1004, "/s/p.sock")},
            ),
        }
    )
    topology = StaticTopology(model)
    topology.here = "edge1"
    assert topology.component_url("controller", "edge1") == "http+unix://%2Fs%2Fe.sock"
    assert topology.processor_url("face", "edge1") == "http+unix://%2Fs%2Fp.sock"
    assert topology.component_url("controller", "cloud") == "http://127.0.0.1:1001"  # another node: TCP
    assert topology.component_url("monitor", "edge1") == "http://127.0.0.1:1003"  # no socket: TCP
    topology.here = None  # outside any node (the backend, a test): TCP everywhere
    assert topology.component_url("controller", "edge1") == "http://127.0.0.1:1002"
