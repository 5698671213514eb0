"""``dayuctl bench-policies`` interrupted by SIGTERM or SIGINT ends every process it started and exits non-zero
saying so.

A real ``--quick`` run in a subprocess (its own session, so only it gets the signal, as from ``kill`` or a
supervisor) is signalled once its deployment is up (the generator, launched last, has its pid file and the
distributor answers ``/health``), or once it says it computes the golden reference (before any deployment).
Then no process of its run directory is alive and none of its ports listens.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from backend.benchpolicies import workload
from backend.local_runtime.runtime import LocalRuntime
from common.errors import DayuError
from tests import leftovers, loopback

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
UP_TIMEOUT_S = 240.0
"""Golden labelling of the quick clip and the install, on a loaded machine (about a minute on an idle one)."""
EXIT_TIMEOUT_S = 90.0
"""The interrupted run's bound: the runner's stop and the sweep each wait at most 10 s per step."""


def _platform_up(run_dir: Path, bench: subprocess.Popen[bytes]) -> None:
    runtime = LocalRuntime(run_dir)
    generator = run_dir / "pids" / f"gen-{workload.SOURCE}.json"
    deadline = time.monotonic() + UP_TIMEOUT_S
    while time.monotonic() < deadline:
        assert bench.poll() is None, f"bench-policies ended (status {bench.returncode}) before its platform was up"
        if generator.is_file():
            try:
                if loopback.get(f"{runtime.url('distributor')}/health", timeout=2, trust_env=False).status_code == 200:
                    return
            except (httpx.HTTPError, DayuError):
                pass
        time.sleep(0.2)
    raise AssertionError(f"the benchmark's platform was not up within {UP_TIMEOUT_S:g}s")


def _labelling(log: Path, bench: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + UP_TIMEOUT_S
    while "golden reference of" not in log.read_text(errors="replace"):
        assert bench.poll() is None, f"bench-policies ended (status {bench.returncode}) before its golden labelling"
        assert time.monotonic() < deadline, f"no golden labelling within {UP_TIMEOUT_S:g}s"
        time.sleep(0.05)


def _gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.timeout(UP_TIMEOUT_S + EXIT_TIMEOUT_S + 120)
@pytest.mark.parametrize(
    ("phase", "sig"),
    [("platform up", signal.SIGTERM), ("platform up", signal.SIGINT), ("golden labelling", signal.SIGTERM)],
    ids=["SIGTERM-running", "SIGINT-running", "SIGTERM-labelling"],
)
def test_an_interrupted_benchmark_leaves_nothing_running(tmp_path: Path, phase: str, sig: signal.Signals) -> None:
    out = tmp_path / "bench"
    run_dir = out / "run"
    log = tmp_path / "bench.log"
    command = [sys.executable, "-m", "backend.cli", "bench-policies", "--quick", "--policies", "fixed"]
    command += ["--duration", "600", "--out", str(out), "--golden-cache", str(tmp_path / "golden")]
    with open(log, "wb") as sink:
        bench = subprocess.Popen(command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    started: list[psutil.Process] = []
    ports: set[int] = set()
    try:
        if phase == "platform up":
            _platform_up(run_dir, bench)
            started = leftovers.processes_of(run_dir)
            ports = leftovers.recorded_ports(run_dir)
            assert len(started) >= 5 and ports, (leftovers.describe(started), ports)  # what must be gone after
            assert leftovers.listening(ports), ports
        else:
            _labelling(log, bench)
        bench.send_signal(sig)
        status = bench.wait(EXIT_TIMEOUT_S)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait(10)
        left = leftovers.processes_of(run_dir) + [p for p in started if not _gone(p)]
        leftovers.kill(left)
    output = log.read_text(errors="replace")
    assert status == 128 + sig, output[-3000:]
    assert f"interrupted by {sig.name}" in output, output[-3000:]
    assert not left, leftovers.describe(left)
    assert leftovers.listening(ports) == [], output[-3000:]
