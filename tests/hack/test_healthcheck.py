"""The images' HEALTHCHECK script against a real component server on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from common.config import ServiceSettings
from common.service import create_service
from tests import loopback
from tests.hack.images import ROOT
from tests.servers import free_port

pytestmark = pytest.mark.integration

SCRIPT = ROOT / "hack" / "docker" / "healthcheck.py"


def serve(status: str) -> Iterator[int]:
    port = free_port()
    health: Any = None if status == "ok" else (lambda app: {"status": status})
    app = create_service("probe", ServiceSettings(port=port), health=health)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # start-up on a loaded machine
    while time.monotonic() < deadline:
        try:
            if loopback.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    else:
        pytest.fail("server did not start")
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def healthy() -> Iterator[int]:
    yield from serve("ok")


@pytest.fixture
def degraded() -> Iterator[int]:
    yield from serve("degraded")


def check(port: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DAYU_PORT": port}
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)


def test_healthy_component_passes(healthy: int) -> None:
    result = check(str(healthy))
    assert result.returncode == 0, result.stderr


def test_degraded_component_fails(degraded: int) -> None:
    result = check(str(degraded))
    assert result.returncode == 1
    assert "status is 'degraded'" in result.stderr


def test_nothing_listening_fails() -> None:
    result = check(str(free_port()))
    assert result.returncode == 1
    assert "/health" in result.stderr


def test_bad_port_setting_fails() -> None:
    result = check("80a")
    assert result.returncode == 1
    assert "not a port number" in result.stderr


@pytest.fixture
def raw_server() -> Iterator[tuple[int, list[bytes]]]:
    """A bare TCP server on loopback that answers every connection with the bytes put in the list (nothing:
    it reads the request and stays silent), to check replies a component would not normally give."""
    replies: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def run() -> None:
        held = []
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.recv(4096)
            if replies:
                conn.sendall(replies[0])
                conn.close()
            else:
                held.append(conn)
        for conn in held:
            conn.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], replies
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_an_error_status_fails(raw_server: tuple[int, list[bytes]]) -> None:
    port, replies = raw_server
    replies.append(b'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 15\r\n\r\n{"status":"ok"}')
    result = check(str(port))
    assert result.returncode == 1
    assert "answered 503" in result.stderr


def test_a_silent_component_fails_within_the_timeout(raw_server: tuple[int, list[bytes]]) -> None:
    port, _ = raw_server
    result = check(str(port))  # run() would raise TimeoutExpired if the script waited on past its own timeout
    assert result.returncode == 1
    assert "timed out" in result.stderr or "no whole reply" in result.stderr, result.stderr
