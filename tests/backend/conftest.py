"""A real backend on loopback (uvicorn in a thread) over a copy of the default template."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from backend.app import create_app
from backend.settings import BackendSettings
from tests.servers import free_port

REPO = Path(__file__).resolve().parents[2]
TOKEN = "test-token-123"


class RunningBackend:
    def __init__(self, state_dir: Path, template: Path) -> None:
        self.state_dir = state_dir
        self.template = template
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = BackendSettings(
            host="127.0.0.1",
            port=self.port,
            token=TOKEN,
            template=template,
            state_dir=state_dir,
            run_dir=state_dir / "run",
            deployer="local",
            static_dir=state_dir / "no-dashboard",
        )
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> RunningBackend:
        self.thread.start()
        deadline = time.monotonic() + 60  # start-up on a loaded machine; a healthy start takes ~1 s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("backend did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


@pytest.fixture
def template_dir(tmp_path: Path) -> Path:
    target = tmp_path / "template"
    shutil.copytree(REPO / "template", target)
    return target


@pytest.fixture
def backend(tmp_path: Path, template_dir: Path) -> Iterator[RunningBackend]:
    with RunningBackend(tmp_path / "state", template_dir) as running:
        yield running
