"""A real uvicorn server in a background thread on a free loopback port, for the integration tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import pytest
import uvicorn
from starlette.types import ASGIApp

from tests.conftest import free_port

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


@contextmanager
def running(app: ASGIApp, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (on ``port``, or a free one) until the block ends; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the test server stopped while starting")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"the test server did not start within {START_TIMEOUT_S}s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)
        if thread.is_alive():
            server.force_exit = True
            thread.join(STOP_TIMEOUT_S)


@pytest.fixture
def serve() -> Iterator[Callable[[ASGIApp], str]]:
    """``serve(app)`` starts a server for the test and returns its URL; all stop at the test's end."""
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(running(app))
