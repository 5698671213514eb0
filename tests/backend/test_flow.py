"""The whole flow with real processes, through dayu.sh, dayuctl and the API.

start -> datasource upload -> DAG -> install (the generator runs, healthy, reading nothing) -> open ->
results with visualization data -> backend restart -> close (no new task; every task made ends as a result
or a drop) -> open again (task ids go on) -> export -> uninstall -> stop, then nothing is left running.
Whatever the test or its ``dayu stop`` did (a failed check, a stop past its bound), its teardown ends what
the run started, each step bounded (``tests/backend/teardown.py``), and says what it had to stop or kill.
The source is a video file written here (a real face from scikit-image pasted into moving frames) read by
the generator's file source.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import psutil
import pytest
import yaml

from backend.local_runtime.processes import spawn
from common.topology import StaticTopology
from tests import leftovers, loopback
from tests.backend.teardown import Step, TeardownError, kill_leftovers, run_steps, stop_runtime
from tests.e2e.cluster import wait_until
from tests.templates import template_copy

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
DAYU_TIMEOUT_S = 240.0
"""Bound of one ``dayu.sh`` start or stop."""
EXIT_GRACE_S = 60.0
"""After the stop: a process still exiting on a loaded machine gets this long before it counts as left."""


def write_video(path: Path, frames: int = 60) -> None:
    from skimage import data

    face = cv2.cvtColor(data.astronaut()[0:300, 120:380], cv2.COLOR_RGB2BGR)  # type: ignore[no-untyped-call]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 15.0, (640, 360))
    for i in range(frames):
        frame = np.full((360, 640, 3), 90, np.uint8)
        x = 40 + (i * 4) % 300
        small = cv2.resize(face, (200, 230))
        frame[60:290, x : x + 200] = small
        writer.write(frame)
    writer.release()


def dayu(action: str, template: Path, home: Path, timeout: float = DAYU_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ACTION": action, "TEMPLATE": str(template), "DAYU_HOME": str(home)}
    return subprocess.run(["bash", str(REPO / "dayu.sh")], env=env, capture_output=True, text=True, timeout=timeout)


def ctl(home: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args], cwd=home, env=env, capture_output=True, text=True, timeout=timeout
    )


def all_records(url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    cursor = 0
    while True:
        page = loopback.get(f"{url}/api/results/cam-a", params={"after": cursor, "limit": 1000}, headers=headers).json()
        records += page["records"]
        if not page["records"] or page["cursor"] == cursor:
            return records
        cursor = page["cursor"]


class FlowTeardown:
    """``dayu stop``, then whatever it left, each step bounded and run whatever the previous one did: the
    launcher's backend and datasource (their pid files), the local runtime (its pid files), then any process
    of the run (pid-file groups, the run directory in its environment, or listed before the stop) still alive
    after ``EXIT_GRACE_S``, killed by pid. Returns what each step had to do beyond the stop, or what failed."""

    def __init__(
        self, template: Path, home: Path, *, stop_timeout_s: float = DAYU_TIMEOUT_S, exit_grace_s: float = EXIT_GRACE_S
    ) -> None:
        self.template, self.home = template, home
        self.stop_timeout_s, self.exit_grace_s = stop_timeout_s, exit_grace_s
        self.run_dir = home / ".dayu" / "run"
        self.stopped: subprocess.CompletedProcess[str] | None = None
        self.pid_files_after_stop: list[Path] = []
        self.known: list[psutil.Process] = []
        """Processes the test saw running (their pid files may be gone by the teardown)."""

    def __call__(self) -> list[str]:
        known = [*self.known, *leftovers.processes_of(self.run_dir)]  # while their pid files still name them
        steps: list[Step] = [
            ("dayu stop", self._stop),
            ("backend and datasource", self._stop_launched),
            ("runtime", lambda: stop_runtime(self.run_dir / "runtime", should_be_stopped=True)),
            ("leftovers", lambda: kill_leftovers(self.run_dir, known=known, grace_s=self.exit_grace_s)),
        ]
        return run_steps(steps)

    def _stop(self) -> str | None:
        try:
            self.stopped = dayu("stop", self.template, self.home, timeout=self.stop_timeout_s)
        finally:  # also after a stop past its bound: what it left is for the next steps
            self.pid_files_after_stop = sorted(self.run_dir.rglob("pids/*.json"))
        if self.stopped.returncode != 0:
            return f"exit status {self.stopped.returncode}: {(self.stopped.stdout + self.stopped.stderr)[-2000:]}"
        return None

    def _stop_launched(self) -> str | None:
        from backend.launcher import running, terminate

        left = [name for name in ("backend", "datasource") if running(self.run_dir, name) is not None]
        for name in left:
            terminate(self.run_dir, name)
        return f"still running after the stop, stopped now: {', '.join(left)}" if left else None


def test_whole_flow(tmp_path: Path) -> None:
    template = template_copy(tmp_path / "template", lambda base: base["install"].update(stage_timeout_s=60))
    # Twice the default task rate, at the video's own 360p: results come sooner and the load stays light.
    generator_template = template / "generator" / "default.yaml"
    spec = yaml.safe_load(generator_template.read_text())
    spec["config"]["startup_plan"].update(resolution="360p", fps=10)
    generator_template.write_text(yaml.safe_dump(spec))
    home = tmp_path / "home"
    video = tmp_path / "street.mp4"
    write_video(video)
    ds = tmp_path / "files.yaml"
    ds.write_text(
        yaml.safe_dump(
            {
                "name": "files",
                "sources": [{"id": "cam-a", "mode": "file", "path": str(video), "node_candidates": ["edge1"],
                             "params": {"loop": True}}],
            }
        )
    )  # fmt: skip
    teardown = FlowTeardown(template, home)
    try:
        started = dayu("start", template, home)
        assert started.returncode == 0, started.stdout + started.stderr
        r = ctl(home, "datasource", "upload", str(ds))
        assert r.returncode == 0, r.stdout + r.stderr
        r = ctl(home, "dag", "create", "faces", "face-detection")
        assert r.returncode == 0, r.stderr
        r = ctl(home, "install", "--datasource", "files", "--policy", "fixed", "--source", "cam-a:faces:edge1")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "stage2" in r.stderr  # progress was shown while waiting
        r = ctl(home, "--json", "status")
        assert json.loads(r.stdout)["phase"] == "installed"
        token = (home / ".dayu" / "token").read_text().strip()
        url = (home / ".dayu" / "run" / "backend.url").read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}

        # Installed with the rest of stage 2: the generator runs and is healthy, but reads nothing yet.
        instances = loopback.get(f"{url}/api/instances", headers=headers, timeout=10).json()
        assert [i["ready"] for i in instances if i["component"] == "generator"] == [True]
        topology = StaticTopology.from_file(next((home / ".dayu" / "run").rglob("topology.json")))
        generator_url = topology.component_url("generator/cam-a", "edge1")

        def generator() -> dict[str, Any]:
            answer: dict[str, Any] = loopback.get(f"{generator_url}/status", headers=headers, timeout=10).json()
            return answer

        idle = generator()  # the install waited for all of stage 2, the CLI then took a second or more
        assert idle["open"] is False and idle["frames_read"] == idle["tasks_created"] == 0, idle
        assert ctl(home, "open").returncode == 0

        r = ctl(home, "--json", "results", "cam-a", "--follow", "--count", "6", "--duration", "60")
        assert r.returncode == 0, r.stderr
        records = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        results = [v for v in records if v["kind"] == "result"]
        assert results, records
        view = results[0]
        assert view["delay"] > 0 and "face-detection" in view["stage_delay"]
        assert view["offloading"]["face-detection"] == "edge1"
        assert view["deployment"] == {"face-detection": ["edge1"]}

        assert any(v["object_count"] > 0 for v in results), [v["object_count"] for v in results]
        with_faces = next(v for v in results if v["object_count"] > 0)
        assert with_faces["objects"][0]["box"] and view["critical_path"][0] == "_start"
        frame = loopback.get(f"{url}{with_faces['image']}", headers=headers, timeout=10)
        # The stage ran on edge1: the result crossed the link without its segment, which edge1's controller
        # keeps for display; the distributor never had it.
        assert frame.status_code == 200, frame.text
        assert cv2.imdecode(np.frombuffer(frame.content, np.uint8), cv2.IMREAD_COLOR) is not None
        assert frame.headers["cache-control"] == "no-store"
        distributor_url = topology.component_url("distributor")
        assert (
            loopback.get(f"{distributor_url}/files/{with_faces['segment']}", headers=headers, timeout=10).status_code
            == 404
        )
        edge_url = topology.component_url("controller", "edge1")
        assert loopback.get(f"{edge_url}/files/{with_faces['segment']}", headers=headers, timeout=10).status_code == 200
        # Without --after the CLI shows the latest records, not the oldest ones.
        latest = ctl(home, "--json", "results", "cam-a", "--limit", "2")
        tail = [json.loads(line) for line in latest.stdout.splitlines() if line.strip()]
        assert len(tail) == 2 and tail[0]["seq"] < tail[1]["seq"], tail
        assert tail[1]["seq"] >= records[-1]["seq"]
        with httpx.stream("GET", f"{url}/api/results/cam-a/stream", headers=headers, timeout=20) as sse:
            events = []
            for line in sse.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                    break
        assert events and events[0]["source_id"] == "cam-a"
        system = loopback.get(f"{url}/api/system", headers=headers, timeout=10).json()
        assert set(system) >= {"cpu", "memory", "bandwidth", "queue_length", "scheduling_overhead"}
        instances = loopback.get(f"{url}/api/instances", headers=headers, timeout=10).json()
        assert {i["component"] for i in instances} == {
            "scheduler", "distributor", "monitor", "controller", "processor", "generator"
        }  # fmt: skip
        assert all(i["ready"] and i["memory_mb"] for i in instances)

        # A backend restart keeps the installed deployment: the components run on, the state comes back.
        from backend.launcher import terminate

        assert terminate(home / ".dayu" / "run", "backend")
        assert dayu("start", template, home).returncode == 0
        after = json.loads(ctl(home, "--json", "status").stdout)
        assert after["phase"] == "installed" and after["open"] is True
        again = ctl(home, "--json", "results", "cam-a", "--after", str(results[-1]["seq"]), "--follow", "--count", "1",
                    "--duration", "30")  # fmt: skip
        assert again.returncode == 0 and again.stdout.strip(), again.stderr

        # Closed: reading stops, and every task made ends at the distributor as a result or a drop.
        assert ctl(home, "close").returncode == 0
        closed = generator()
        made = closed["tasks_created"]
        assert closed["open"] is False and made > 0, closed
        wait_until(
            lambda: {r["task_id"] for r in all_records(url, headers)} >= set(range(made)),
            timeout=120,
            what="a result or a drop for every task made before closing",
        )
        time.sleep(0.8)  # two task periods
        assert generator()["tasks_created"] == made  # nothing read, no task made while closed
        # Opened again: task ids go on from where they stopped.
        assert ctl(home, "open").returncode == 0
        wait_until(
            lambda: [r for r in all_records(url, headers) if r["task_id"] >= made],
            timeout=120,
            what="a task of the second opening",
        )
        reopened = generator()
        assert reopened["open"] is True and reopened["opens"] == 2 and reopened["next_task_id"] > made

        out = tmp_path / "export.jsonl.gz"
        r = ctl(home, "export", "--source", "cam-a", "-o", str(out))
        assert r.returncode == 0, r.stderr
        lines = gzip.decompress(out.read_bytes()).decode().splitlines()
        assert len(lines) >= len(results)
        assert {json.loads(line)["kind"] for line in lines} <= {"result", "drop"}
        sys_out = tmp_path / "system.jsonl.gz"
        assert ctl(home, "export", "--system", "-o", str(sys_out)).returncode == 0
        snapshots = [json.loads(x) for x in gzip.decompress(sys_out.read_bytes()).decode().splitlines()]
        assert snapshots and "cpu" in snapshots[-1]
        table = ctl(home, "sources")
        assert table.returncode == 0 and "cam-a" in table.stdout and "edge1" in table.stdout

        # Every process this deployment started, from its own pid files (other work on the machine is not ours).
        started_pids = [json.loads(f.read_text())["pid"] for f in (home / ".dayu" / "run").rglob("pids/*.json")]
        assert len(started_pids) >= 6, started_pids
        teardown.known += [psutil.Process(pid) for pid in started_pids if psutil.pid_exists(pid)]
        assert ctl(home, "uninstall").returncode == 0
        assert json.loads(ctl(home, "--json", "status").stdout)["phase"] == "uninstalled"
    except BaseException:
        problems = teardown()
        if problems:  # the test's own failure goes on; this is only reported beside it
            print("teardown after the failure:\n- " + "\n- ".join(problems), file=sys.stderr)
        raise
    # `dayu.sh stop` ends everything: the teardown's later steps find nothing to stop or kill.
    problems = teardown()
    if problems:
        raise TeardownError("the whole flow's stop left work to its teardown:\n- " + "\n- ".join(problems))
    assert teardown.stopped is not None and teardown.stopped.returncode == 0
    assert not teardown.pid_files_after_stop, teardown.pid_files_after_stop


HANGS = "import socket, sys, time\ns = socket.create_server(('127.0.0.1', int(sys.argv[1])))\ntime.sleep(600)\n"
"""A backend that takes connections (the kernel's backlog) and never answers: an uninstall through it hangs."""


def _launch(run_dir: Path, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A real process in its own group, recorded in ``run_dir/pids/<name>.json`` as the launcher records the
    backend (no record when ``name`` is empty)."""
    proc = subprocess.Popen([sys.executable, "-c", *args], env=env, start_new_session=True, stdin=subprocess.DEVNULL)
    if name:
        (run_dir / "pids").mkdir(parents=True, exist_ok=True)
        created = psutil.Process(proc.pid).create_time()
        record = {"pid": proc.pid, "pgid": proc.pid, "create_time": created}
        (run_dir / "pids" / f"{name}.json").write_text(json.dumps(record))
    return proc


def test_the_teardown_ends_what_a_stop_past_its_bound_left_and_says_so(tmp_path: Path) -> None:
    """``dayu stop`` hangs in its uninstall (the backend takes the request and never answers) past the bound
    the test gives it; the teardown still ends the backend, the runtime's component group and a process that
    only its environment ties to the run, and names each."""
    template = template_copy(tmp_path / "template")
    base = yaml.safe_load((template / "base.yaml").read_text())
    home = tmp_path / "home"
    run_dir = home / ".dayu" / "run"
    (home / ".dayu").mkdir(parents=True)
    (home / ".dayu" / "token").write_text("t\n")
    port = base["backend"]["port"]
    procs: list[subprocess.Popen[bytes]] = [_launch(run_dir, "backend", HANGS, str(port))]
    worker, record = spawn(  # as the local runtime launches a component: its own group, its pid file
        "worker",
        [sys.executable, "-c", "import os, time\nos.fork()\ntime.sleep(600)\n"],
        env=dict(os.environ),
        cwd=tmp_path,
        log_path=run_dir / "runtime" / "logs" / "worker.log",
        port=None,
        node="cloud",
        component="worker",
    )
    record.save(run_dir / "runtime" / "pids")
    procs += [
        worker,
        _launch(run_dir, "", "import time; time.sleep(600)", env={**os.environ, "DAYU_RUN_DIR": str(run_dir)}),
    ]
    teardown = FlowTeardown(template, home, stop_timeout_s=5.0, exit_grace_s=0.0)
    try:
        wait_until(lambda: leftovers.listening({port}), timeout=60, what="the hanging backend listening")
        problems = teardown()
        for proc in procs:
            proc.wait(10)
        left = leftovers.processes_of(run_dir)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)
    assert teardown.stopped is None  # the stop never finished
    assert [p.split(":")[0] for p in problems] == ["dayu stop", "backend and datasource", "runtime", "leftovers"]
    assert "TimeoutExpired" in problems[0]
    assert problems[1].endswith("stopped now: backend")
    assert "'worker'" in problems[2]
    assert "1 process(es)" in problems[3] and f"{procs[2].pid}: " in problems[3]
    assert left == [] and leftovers.listening({port}) == []
