"""A real backend on loopback (uvicorn in a thread) over a copy of the default template.

Whatever state its install is in when the block ends (a failed assertion, a timeout, Ctrl-C), the backend
ends everything it started: see :meth:`RunningBackend.stop`.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from backend.app import create_app
from backend.settings import BackendSettings
from tests import loopback
from tests.backend.teardown import Step, TeardownError, kill_leftovers, run_steps, stop_runtime
from tests.servers import free_port

REPO = Path(__file__).resolve().parents[2]
TOKEN = "test-token-123"
UNINSTALL_TIMEOUT_S = 60.0
"""Bound of the uninstall through the API (an uninstall interrupts an install in progress at once)."""
SERVER_STOP_TIMEOUT_S = 60.0
"""Bound of the server's shutdown; it removes an install it was still running (at most 60 s)."""


class RunningBackend:
    def __init__(self, state_dir: Path, template: Path) -> None:
        self.state_dir = state_dir
        self.template = template
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.run_dir = state_dir / "run"
        self._uninstalled = False
        settings = BackendSettings(
            host="127.0.0.1",
            port=self.port,
            token=TOKEN,
            template=template,
            state_dir=state_dir,
            run_dir=self.run_dir,
            deployer="local",
            static_dir=state_dir / "no-dashboard",
        )
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> RunningBackend:
        self.thread.start()
        deadline = time.monotonic() + 60  # start-up on a loaded machine; a healthy start takes ~1 s
        while time.monotonic() < deadline:
            try:
                if loopback.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("backend did not start")

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        problems = self.stop()
        if not problems:
            return
        message = f"the backend on port {self.port} did not end cleanly:\n- " + "\n- ".join(problems)
        if exc_type is not None and not issubclass(exc_type, Exception):
            print(message, file=sys.stderr)  # Ctrl-C, a test's timeout: that goes on, this is only reported
            return
        raise TeardownError(message)

    def stop(self) -> list[str]:
        """End everything this backend started, whatever state its install is in, and say what went wrong.

        1. uninstall through the API (it interrupts an install in progress and removes every workload);
        2. stop the server (a shutdown during an install removes that install too);
        3. stop what the run directory's pid files still name (their process groups, SIGTERM then SIGKILL):
           after the server, so nothing is launched once this has run;
        4. look for any process of the run directory left (pid-file process groups, the run directory in its
           environment), kill it by pid and report it.

        Each step is bounded in time; a step that fails is reported and the next one still runs
        (:mod:`tests.backend.teardown`).
        """
        steps: list[Step] = [
            ("uninstall", self._uninstall),
            ("server", self._stop_server),
            ("runtime", lambda: stop_runtime(self.run_dir / "runtime", should_be_stopped=self._uninstalled)),
            ("leftovers", lambda: kill_leftovers(self.run_dir)),
        ]
        return run_steps(steps)

    def _uninstall(self) -> str | None:
        if not self.thread.is_alive():
            return None  # stopped by the test already: what it left is for the next steps
        with self.client() as c:
            c.timeout = httpx.Timeout(UNINSTALL_TIMEOUT_S)
            if c.get("/api/install").json().get("phase") == "uninstalled":
                self._uninstalled = True
                return None
            response = c.post("/api/uninstall")
        if response.status_code != 200:
            return f"POST /api/uninstall answered {response.status_code}: {response.text[:500]}"
        self._uninstalled = True
        return None

    def _stop_server(self) -> str | None:
        self.server.should_exit = True
        self.thread.join(SERVER_STOP_TIMEOUT_S)
        if not self.thread.is_alive():
            return None
        self.server.force_exit = True
        self.thread.join(10)
        return f"the server was still stopping after {SERVER_STOP_TIMEOUT_S:g}s" + (
            " and did not end when forced" if self.thread.is_alive() else ""
        )

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
