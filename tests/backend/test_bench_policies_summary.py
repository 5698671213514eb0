"""The policy benchmark's figures of one run: only the measured window's tasks count, and a task of the
window that never ended counts as a violation, like a late or dropped one."""

from __future__ import annotations

from typing import Any

import pytest

from backend.benchpolicies import report, workload
from backend.benchpolicies.config import BenchSettings
from backend.benchpolicies.runner import RunRecords
from backend.benchpolicies.summary import combine, summarise

pytestmark = pytest.mark.unit
T0 = 1_000_000.0


def result(task_id: int, t: float, latency: float, *, node: str = "cloud", size: int = 1000) -> dict[str, Any]:
    return {
        "kind": "result",
        "latency": latency,
        "task": {
            "task_id": task_id,
            "created_at": T0 + t,
            "source_node": "edge1",
            "meta": {"resolution": "720p", "fps": 10.0, "qp": 18},
            "payload": {"size_bytes": size},
            "accuracy": {"accuracy": 0.5},
            "dag": {"_start": {"node": "edge1"}, "face": {"node": node}, "_end": {"node": "cloud"}},
        },
    }


def drop(task_id: int, t: float) -> dict[str, Any]:
    return {"kind": "drop", "drop": {"task_id": task_id, "at": T0 + t + 1, "task": None}}


def test_only_the_window_counts_and_unfinished_tasks_are_violations() -> None:
    records = [
        result(3, -1.0, 9.0),  # warm-up, before the trace started: left out
        result(4, 0.5, 0.2),
        result(5, 1.0, 0.3, node="edge1"),  # ran on the source's node: no bytes over the link
        result(6, 25.0, 2.5),  # late
        drop(7, 30.0),
        result(12, 80.0, 0.1),  # made after the window: left out
    ]
    # Window: ids 4..10; 8, 9 and 10 never ended.
    run = RunRecords("p", 0, started=T0, duration_s=70, first_task=4, end_task=11, records=records)
    figures = summarise(run, 1000.0, slow_link=lambda t: 20 <= t < 50)
    assert figures["tasks"] == 3 and figures["drops"] == 1 and figures["unfinished"] == 3
    assert figures["slo_violation_rate"] == pytest.approx(5 / 7)  # late 1 + dropped 1 + unfinished 3
    assert figures["drop_rate"] == pytest.approx(1 / 7)
    assert figures["slo_violation_rate_low_link"] == pytest.approx(1.0)  # task 6 late, task 7 dropped
    assert figures["link_mbytes"] == pytest.approx(2000 / 1e6)
    assert figures["latency_ms_p50"] == pytest.approx(300.0)


def test_repeats_combine_into_mean_and_spread() -> None:
    a = {"slo_violation_rate": 0.2, "tasks": 10}
    b = {"slo_violation_rate": 0.4, "tasks": 14}
    out = combine([a, b])
    assert out["slo_violation_rate"] == pytest.approx(0.3) and out["spread"]["slo_violation_rate"] == pytest.approx(0.2)
    assert out["tasks"] == 12 and out["spread"]["tasks"] == 4


def test_the_default_suite_runs_with_the_edge_weaker_and_the_table_says_so() -> None:
    settings = BenchSettings()
    assert settings.edge_cpu_quota == 0.5
    nodes = workload.nodes(settings.edge_cpu_quota)
    assert nodes[workload.EDGE]["cpu_quota"] == 0.5 and "cpu_quota" not in nodes[workload.CLOUD]
    base = {"trace": "step-drop", "trace_replay": "replayed", "duration_s": 70, "slo_ms": 1000, "seed": 7, "repeat": 1}
    enforced = {**base, "edge_cpu_quota": 0.5, "node_cpu": {"enforced": True, "cgroup_version": 1}}
    assert "Edge limited to 0.5 core(s) by a cgroup v1 CPU quota" in report.table(
        {"settings": enforced, "policies": {}}
    )
    refused = {**base, "edge_cpu_quota": 0.5, "node_cpu": {"enforced": False, "reason": "CPU quotas NOT enforced: x"}}
    assert "NOT enforced: CPU quotas NOT enforced: x" in report.table({"settings": refused, "policies": {}})
    equal = {**base, "edge_cpu_quota": None}
    assert "no CPU quota" in report.table({"settings": equal, "policies": {}})
