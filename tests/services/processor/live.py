"""Run a real app on loopback with uvicorn in a thread, for integration tests of the runtime services."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI

from tests.conftest import free_port

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0


@contextmanager
def serve(app: FastAPI, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL. Startup and shutdown are bounded."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"server on port {port} exited during startup")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"server on port {port} did not start within {START_TIMEOUT_S}s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
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
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
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
