"""A real datasource server on loopback, in a thread of the test process."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn

from datasource.app import create_app
from datasource.config import DatasourceSettings
from datasource.synthetic import SyntheticSpec, generate_dataset
from tests import loopback
from tests.servers import free_port

TOKEN = "test-token"
TINY = SyntheticSpec(seed=5, width=320, height=192, fps=30, clips=2, frames_per_clip=6)


def make_dataset(root: Path, name: str = "tiny", spec: SyntheticSpec = TINY) -> Path:
    generate_dataset(root / name, spec)
    return root / name


@contextlib.contextmanager
def running_datasource(root: Path, **settings: object) -> Iterator[str]:
    port = free_port()
    config = DatasourceSettings(root=root, port=port, token=TOKEN, work_dir=root / ".work", **settings)  # type: ignore[arg-type]
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("datasource did not start")
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def open_source(base: str, source: str, **body: object) -> httpx.Response:
    return loopback.post(f"{base}/streams/{source}/open", json=body, headers=auth(), timeout=10)
