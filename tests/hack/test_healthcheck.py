"""The images' HEALTHCHECK script against a real component server on loopback."""

from __future__ import annotations

import os
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
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
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
