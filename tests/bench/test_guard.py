"""A bench stopped by SIGTERM or Ctrl-C leaves nothing running: the real bench (``python -m tests.bench``)
is started, held inside its hop section (``BENCH_PAUSE_IN``) once its components and its bare floor server
run, signalled there, and every process it had started is checked to be gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.bench import guard
from tests.e2e.cluster import wait_until

REPO = Path(__file__).resolve().parents[2]


def _gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _floor_running(bench: psutil.Process) -> list[psutil.Process] | None:
    """The bench's descendants once the hop floor server is among them (the runtime is up by then)."""
    try:
        found = bench.children(recursive=True)
        if any("tests.bench.floor" in " ".join(p.cmdline()) for p in found):
            return found
    except psutil.Error:
        return None
    return None


def _sigint_as_in_a_foreground_job() -> None:
    """A terminal's foreground job takes SIGINT at its default, which Python turns into KeyboardInterrupt. A
    process that a non-interactive shell started in the background (``cmd &`` in a CI script) ignores SIGINT,
    and passes the ignore on to everything it starts: the bench would never see the Ctrl-C sent here."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.e2e
@pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
def test_a_signalled_bench_stops_every_process_it_started(tmp_path: Path, how: str) -> None:
    out = tmp_path / "bench.log"
    with open(out, "wb") as log:
        command = [sys.executable, "-m", "tests.bench", "--quick", "--only", "hop"]
        command += ["--run-dir", str(tmp_path / "run"), "--out", str(tmp_path / "results.json")]
        bench = subprocess.Popen(
            command,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), "BENCH_PAUSE_IN": "hop"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, as a terminal's foreground job
            preexec_fn=_sigint_as_in_a_foreground_job,
        )
    started: list[psutil.Process] = []
    try:
        # Paused inside the hop section with its processes running: the signal lands there on any machine.
        wait_until(lambda: "paused in section hop" in out.read_text(), timeout=150, interval=0.2, what="the pause")
        started = wait_until(
            lambda: _floor_running(psutil.Process(bench.pid)), timeout=30, interval=0.2, what="the bench's processes"
        )
        components = [p for p in started if "services." in " ".join(p.cmdline())]
        assert len(components) >= 5, [p.cmdline() for p in started]  # controller, distributor, scheduler, processors
        if how == "sigterm":
            bench.send_signal(signal.SIGTERM)
        else:
            os.killpg(bench.pid, signal.SIGINT)  # what Ctrl-C does: the foreground group gets SIGINT
        code = bench.wait(timeout=60)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(_gone(p) for p in started):
            time.sleep(0.1)
        alive = [p.cmdline() for p in started if not _gone(p)]
        assert not alive, f"still running after the bench exited: {alive}"
        assert code != 0, out.read_text()
        assert not (tmp_path / "results.json").exists()  # an interrupted run writes no figures
    finally:
        if bench.poll() is None:
            # SIGTERM first, so the bench's guard stops what it started (its components run in groups of their
            # own, which a SIGKILL of the bench's group leaves running); SIGKILL only if that does not end it.
            bench.send_signal(signal.SIGTERM)
            try:
                bench.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(bench.pid, signal.SIGKILL)
                bench.wait(timeout=10)
        for proc in started:  # a failed check must not leave the survivors behind
            if not _gone(proc):
                proc.kill()


@pytest.mark.integration
def test_guard_run_kills_the_childs_whole_group_on_timeout(tmp_path: Path) -> None:
    marker = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(marker)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    with pytest.raises(subprocess.TimeoutExpired):
        guard.run([sys.executable, "-c", script], timeout=3)
    grandchild = psutil.Process(int(marker.read_text()))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not _gone(grandchild):
        time.sleep(0.05)
    assert _gone(grandchild)
