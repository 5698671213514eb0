"""The bench's CPU accounting: the passthrough ratio it explains (``cpu_accounting``) and the per-process
usage it is built from (``process_usage``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

import pytest

from tests.bench.dataplane import ProcessUsage, cpu_accounting, process_usage

pytestmark = pytest.mark.unit


def test_the_ratio_splits_into_cpu_per_task_and_busy_cores() -> None:
    cores = os.cpu_count() or 1
    dayu_ms = {"controller-cloud": 2.5, "proc-passthrough": 2.0, "distributor": 1.5, "bench": 1.0}  # 7 ms
    chain_runs = [
        {"entry": 1.0, "worker": 0.5, "sink": 0.3, "bench": 0.2},
        {"entry": 1.2, "worker": 0.7, "sink": 0.3, "bench": 0.2},
    ]
    out = cpu_accounting(150.0, dayu_ms, 0.6, 700.0, chain_runs, [0.8, None])
    assert out["dayu_cpu_ms_per_task"] == 7.0
    assert out["chain_cpu_ms_per_task"] == 2.2  # mean of 2.0 and 2.4
    assert out["cpu_ratio"] == round(2.2 / 7.0, 3)
    assert out["busy_ratio"] == 0.75  # 0.6 over the one chain share measured
    assert out["dayu_cpu_bound_tasks_per_s"] == round(cores * 1000 / 7.0, 1)
    assert out["dayu_cores_on_its_processes"] == 1.05  # 150 tasks/s x 7 ms
    assert out["chain_cores_on_its_processes"] == 1.54


def test_no_busy_share_leaves_the_busy_ratio_unknown() -> None:
    out = cpu_accounting(100.0, {"bench": 1.0}, None, 300.0, [{"bench": 0.5}], [None])
    assert out["busy_ratio"] is None and out["cpu_ratio"] == 0.5


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="page faults are read from Linux's /proc")
def test_process_usage_counts_a_childs_cpu_and_the_pages_it_touches() -> None:
    # A parent that starts a child; the child writes 64 MiB of fresh memory (16,384 pages), then both wait.
    child = "import time; b = b'x' * (64 << 20); print('ready', flush=True); time.sleep(30)"
    parent = (
        "import subprocess, sys, time; "
        f"c = subprocess.Popen([sys.executable, '-c', {child!r}], stdout=subprocess.PIPE); "
        "c.stdout.readline(); print(c.pid, flush=True); time.sleep(30)"
    )
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE)
    child_pid = 0
    try:
        assert proc.stdout is not None
        child_pid = int(proc.stdout.readline())
        usage = process_usage(proc.pid)
        assert usage.minor_faults >= 16_384  # the child's pages are counted with the parent's
        assert 0.0 < usage.system_s <= usage.cpu_s  # zeroing those pages is the kernel's work
    finally:
        if child_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child_pid, signal.SIGKILL)
        proc.kill()
        proc.wait(timeout=10)
    assert process_usage(proc.pid) == ProcessUsage()  # gone: zeros, not an error
