"""Real servers for tests: an app under uvicorn in a background thread, or a component as its own process.

Both listen on a loopback port picked free by the OS; starting and stopping are bounded in time.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from starlette.types import ASGIApp

from tests import loopback

START_TIMEOUT_S = 60.0  # a loaded 2-core machine; a healthy start takes well under a second
STOP_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: ASGIApp, port: int | None = None, *, timeout: float = START_TIMEOUT_S) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (on ``port``, or a free one) until the block ends; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the server on port {port} stopped while starting")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"the server on port {port} did not start within {timeout}s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)
        if thread.is_alive():
            server.force_exit = True
            thread.join(STOP_TIMEOUT_S)


@contextmanager
def spawn(module: str, env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run ``python -m <module>`` in its own process group on a free port until /health answers.

    Yields the process and its base URL; the group is ended (TERM, then KILL) when the block ends.
    """
    port = free_port()
    full_env = {**os.environ, **env, "DAYU_HOST": "127.0.0.1", "DAYU_PORT": str(port), "DAYU_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", module], env=full_env, start_new_session=True, stdout=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{module} exited with {process.returncode} during startup")
            try:
                if loopback.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{module} did not answer /health within {START_TIMEOUT_S}s")
            time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_TIMEOUT_S)
