"""The passthrough run's CPU accounting (``tests.bench.dataplane.cpu_accounting``): the ratio it explains."""

from __future__ import annotations

import os

import pytest

from tests.bench.dataplane import cpu_accounting

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
