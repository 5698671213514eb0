"""``dayu.sh stop`` (``backend.launcher.stop_local``) runs every step of its sweep whatever error one raises.

The run directory is real and so is what it names: a process group (a leader and the child it forked)
recorded in the local runtime's pid files, as the runtime records its components. The runtime's own stop is
made to fail the way a damaged run directory makes it fail: its ``pids/stopping`` is a file, not a
folder, so the stop raises ``FileExistsError`` before signalling anything. The steps after it still run:
the group is ended, the URL file removed, the failure reported.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psutil
import pytest

from backend.launcher import stop_local
from backend.local_runtime.processes import spawn
from backend.templates import load_template

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
FORKS = "import os, time\nif os.fork() == 0:\n    time.sleep(600)\nelse:\n    time.sleep(600)\n"
"""A leader that forks a child into its group, both waiting far longer than the test."""


def _group(pgid: int) -> list[psutil.Process]:
    out = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                out.append(proc)
        except OSError:
            continue
    return out


def test_a_failing_step_of_the_stop_does_not_skip_the_rest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = load_template(REPO / "template")
    run_dir = tmp_path / template.base.local.run_dir
    runtime_dir = run_dir / "runtime"
    popen, record = spawn(
        "worker",
        [sys.executable, "-c", FORKS],
        env=dict(os.environ),
        cwd=tmp_path,
        log_path=runtime_dir / "logs" / "worker.log",
        port=None,
        node="cloud",
        component="worker",
    )
    record.save(runtime_dir / "pids")
    (runtime_dir / "pids" / "stopping").write_text("not a folder\n")
    (run_dir / "backend.url").write_text("http://127.0.0.1:1\n")
    try:
        deadline = time.monotonic() + 60
        while len(_group(record.pgid)) < 2:  # the leader and its forked child
            assert time.monotonic() < deadline, "the worker did not fork within 60 s"
            time.sleep(0.05)
        problems = stop_local(template, tmp_path)
        popen.wait(5)  # our child: reaped, so it is not left as a zombie
        left = _group(record.pgid)
    finally:
        for proc in _group(record.pgid):
            proc.kill()
        popen.kill()
        popen.wait(5)
    out = capsys.readouterr()
    assert [p.split(":")[0] for p in problems] == ["local runtime"], problems
    assert "FileExistsError" in problems[0] and f"dayu: stop: {problems[0]}" in out.err
    assert left == [], left  # the next step ended the group the runtime's stop could not
    assert not (run_dir / "backend.url").exists()
    assert "Dayu is down" in out.out
