"""Ending a start midway and stopping a stopped process, with real processes.

``LocalRuntime.interrupt`` makes a start that waits for a component that never answers give up at once: it
stops what it had started, raises ``interrupted`` and launches nothing more; a later start is not affected.
``stop`` ends a component stopped with SIGSTOP by SIGTERM (it is continued), not by SIGKILL after the timeout.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import pytest

from backend.local_runtime.runtime import LocalRuntime
from common.errors import Conflict
from common.workload import Workload
from tests import leftovers
from tests.e2e.cluster import wait_until

pytestmark = pytest.mark.integration

NODES = {"cloud": {"role": "cloud"}, "edge1": {"role": "edge"}}
SILENT = [sys.executable, "-c", "import time; time.sleep(600)"]
"""A component that runs and never answers /health."""


def test_an_interrupted_start_stops_what_it_started_and_launches_nothing_more(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    workloads = [
        Workload(name="silent", component="scheduler", node="cloud", stage=1, command=SILENT),
        Workload(name="controller-edge1", component="controller", node="edge1"),  # stage 2: never reached
    ]
    rt = LocalRuntime(run_dir)
    failures: list[BaseException] = []

    def start() -> None:
        try:
            rt.start(NODES, [], workloads, timeout=600)  # only the interrupt can end it
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=start, daemon=True)
    thread.start()
    try:
        silent = wait_until(
            lambda: next((r for r in rt.records() if r.name == "silent" and r.alive()), None),
            timeout=60,
            what="the silent component to be launched",
        )
        rt.interrupt()
        thread.join(60)
        assert not thread.is_alive(), "the start did not give up"
        assert len(failures) == 1 and isinstance(failures[0], Conflict), failures
        assert failures[0].code == "interrupted", failures[0]
        assert not silent.alive()
        assert rt.records() == []
        assert not (rt.log_dir / "controller-edge1.log").exists()  # the next batch was never launched
        left = leftovers.processes_of(run_dir)
        assert not left, leftovers.describe(left)

        # An interrupt counts against the calls running when it was made, not against later ones.
        rt.start(NODES, [], workloads[1:], timeout=60)
        assert [r.name for r in rt.records() if r.alive()] == ["controller-edge1"]
    finally:
        rt.stop(timeout=10)
        leftovers.kill(leftovers.processes_of(run_dir))


def test_stop_ends_a_stopped_component_with_sigterm(tmp_path: Path) -> None:
    rt = LocalRuntime(tmp_path / "run")
    rt.start(NODES, [], [Workload(name="controller-cloud", component="controller", node="cloud")], timeout=60)
    try:
        (record,) = rt.records()
        os.killpg(record.pgid, signal.SIGSTOP)
        outcome = rt.stop(timeout=60)  # without SIGCONT it would sit the whole timeout out and be killed
        assert outcome == {"controller-cloud": "terminated"}, outcome
        assert not record.alive()
    finally:
        rt.stop(timeout=10)
        leftovers.kill(leftovers.processes_of(tmp_path / "run"))
