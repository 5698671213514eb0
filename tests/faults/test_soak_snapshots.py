"""The soak's ``--tracemalloc``: it signals only the platform's processes that handle the signal, and
prints each one's growth sites. Run against a real component in its own process (no platform: the
signalling and the report are what is under test)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from common import memtrace
from tests.faults.soak import Snapshots
from tests.servers import spawn

WAIT_S = 60.0


def wait_for_count(directory: Path, n: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while len(list(directory.glob(f"*{memtrace.SUFFIX}"))) < n:
        assert time.monotonic() < deadline, f"{n} snapshots within {WAIT_S}s"
        time.sleep(0.05)


def test_snapshots_of_armed_processes_and_their_growth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = dict(os.environ)
    snapshots = Snapshots(tmp_path, frames=5, every_s=60.0)
    env = snapshots.environment()
    assert env == {memtrace.ENV_FRAMES: "5", memtrace.ENV_DIR: str(tmp_path)}
    only = Snapshots(tmp_path, frames=5, every_s=60.0, services="backend").environment()
    assert only == {**env, memtrace.ENV_SERVICES: "backend"}
    # Only the platform's processes are traced: this process's environment, read by every later in-process
    # server of the suite, is left as it was.
    assert dict(os.environ) == before
    with spawn("tests.common.memtrace_app", env) as (process, url):
        marker = memtrace.armed(tmp_path, process.pid)
        deadline = time.monotonic() + WAIT_S
        while not marker.exists():
            assert time.monotonic() < deadline, "the component armed within the wait"
            time.sleep(0.05)
        # This test's own process is not armed: were it signalled, SIGUSR2 would end it here.
        live = {process.pid, os.getpid()}
        snapshots.maybe_take(0.0, live)
        wait_for_count(tmp_path, 1)
        snapshots.maybe_take(30.0, live)  # before the next one is due: nothing sent
        with httpx.Client(timeout=30) as client:
            for _ in range(30):
                client.post(f"{url}/grow").raise_for_status()
        snapshots.maybe_take(60.0, live)
        wait_for_count(tmp_path, 2)
        assert len(list(tmp_path.glob(f"*{memtrace.SUFFIX}"))) == 2
    snapshots.report({process.pid: "probe"})
    out = capsys.readouterr().out
    assert f"probe (pid {process.pid}, 2 snapshots):" in out
    assert "process (MiB): rss " in out
    first_site = out.split("2 snapshots):")[1].splitlines()[2]
    assert "memtrace_app.py:" in first_site.split(" <- ")[0], out
