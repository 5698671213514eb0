"""The platform for fault and soak runs: ``dayu.sh`` from a copy of the default template (free ports), the
default DAG installed for both sources of the default datasource, the datasource opened.

``link_mode`` sets the local runtime's link mode (the template's when None); ``during_install`` is called
while the install runs (a fault to inject there), before waiting for it to finish."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from common.topology import StaticTopology
from tests import leftovers
from tests.e2e.cluster import wait_until
from tests.templates import template_copy

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("cam0", "cam1")


def dayu(
    action: str, template: Path, home: Path, extra_env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(extra_env or {}), "ACTION": action, "TEMPLATE": str(template), "DAYU_HOME": str(home)}
    # The backend looks at the components' health every second (default 2 s): a component that restarts
    # within a few seconds is still seen down, so the degraded state it must go through is observed.
    env.setdefault("DAYU_HEALTH_INTERVAL_S", "1")
    return subprocess.run(["bash", str(REPO / "dayu.sh")], env=env, capture_output=True, text=True, timeout=300)


class Platform:
    def __init__(self, home: Path, template: Path) -> None:
        self.home = home
        self.template = template
        self.run = home / ".dayu" / "run"
        token = (home / ".dayu" / "token").read_text().strip()
        self.headers = {"Authorization": f"Bearer {token}"}
        self.url = (self.run / "backend.url").read_text().strip()
        self.http = httpx.Client(headers=self.headers, timeout=30, trust_env=False)  # traced or loaded: slower

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.url}{path}", **kwargs)
        assert response.status_code < 400, (method, path, response.status_code, response.text)
        return response.json()

    def topology(self) -> StaticTopology:
        return StaticTopology.from_file(next(self.run.rglob("topology.json")))

    def pid_record(self, name: str) -> dict[str, Any]:
        path = next(p for p in self.run.rglob(f"pids/{name}.json") if "stopping" not in p.parts)
        record: dict[str, Any] = json.loads(path.read_text())
        return record

    def records(self) -> list[dict[str, Any]]:
        """Every record the distributor holds, straight from it (the backend may be the one that is down)."""
        distributor = self.topology().component_url("distributor")
        out: list[dict[str, Any]] = []
        cursor = 0
        while True:
            page = self.http.get(f"{distributor}/results", params={"after": cursor, "limit": 1000}).json()
            out += page["records"]
            if not page["records"] or page["cursor"] == cursor:
                return out
            cursor = page["cursor"]

    def last_result_seq(self) -> dict[str, int]:
        """Per source, the highest task id with a result: it grows only when tasks made after a fault come
        through (a new record of a task already in flight before the fault does not count)."""
        seqs = {s: -1 for s in SOURCES}
        for r in self.records():
            if r["kind"] == "result" and r["source_id"] in seqs:
                seqs[r["source_id"]] = max(seqs[r["source_id"]], r["task_id"])
        return seqs

    def generator_status(self, source: str) -> dict[str, Any]:
        url = self.topology().component_url(f"generator/{source}", self.placement()[source])
        status: dict[str, Any] = self.http.get(f"{url}/status").json()
        return status

    def generator_metric(self, source: str, name: str) -> float | None:
        """One sample of the source's generator's Prometheus text (``dayu_<name>``), or None when it has none."""
        url = self.topology().component_url(f"generator/{source}", self.placement()[source])
        for line in self.http.get(f"{url}/metrics").text.splitlines():
            if line.startswith(f"dayu_{name} "):
                return float(line.split()[1])
        return None

    def placement(self) -> dict[str, str]:
        placement: dict[str, str] = self.api("GET", "/api/install")["placement"]
        return placement


@contextlib.contextmanager
def start_platform(
    root: Path,
    *,
    link_mode: str | None = None,
    during_install: Callable[[Platform], None] | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Platform]:
    """The default install with both sources, results flowing; ``extra_env`` joins the environment of the
    platform's processes only (never this process's: a variable left in it reaches every later test)."""
    template = template_copy(
        root / "template", None if link_mode is None else lambda base: base["local"].update(link_mode=link_mode)
    )
    home = root / "home"
    try:
        started = dayu("start", template, home, extra_env)
        assert started.returncode == 0, started.stdout + started.stderr
        p = Platform(home, template)
        p.api("POST", "/api/install", json={"datasource": "synthetic", "dag": "face-detection", "policy": "fixed"})
        if during_install is not None:
            during_install(p)
        wait_until(lambda: p.api("GET", "/api/install")["phase"] == "installed", timeout=300, what="the install")
        p.api("POST", "/api/query/open")
        wait_until(lambda: min(p.last_result_seq().values()) >= 0, timeout=120, what="results of both sources")
        yield p
    finally:
        stop_platform(template, home)


def stop_platform(template: Path, home: Path) -> None:
    """``ACTION=stop``, then every process of the platform's run directory still there is killed by pid and
    reported; a stop that fails or hangs is reported too and does not keep the second step from running."""
    problems = []
    try:
        stopped = dayu("stop", template, home)
        if stopped.returncode != 0:
            problems.append(f"ACTION=stop exited with {stopped.returncode}: {stopped.stderr[-2000:]}")
    except subprocess.TimeoutExpired as exc:
        problems.append(f"ACTION=stop did not end within {exc.timeout:g}s")
    left = leftovers.processes_of(home / ".dayu" / "run")
    if left:
        problems.append(f"still running after ACTION=stop, killed now: {leftovers.describe(left)}")
        leftovers.kill(left)
    assert not problems, problems
