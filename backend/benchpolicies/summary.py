"""Figures of one run, and of a policy over its repeats."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import numpy as np

from backend.benchpolicies.runner import RunRecords, in_window
from common.task import SENTINELS

METRICS = (
    "latency_ms_p50",
    "latency_ms_p95",
    "slo_violation_rate",
    "slo_violation_rate_low_link",
    "accuracy_f1",
    "link_mbytes",
    "drop_rate",
    "decision_ms_p99",
    "tasks",
)
Slow = Callable[[float], bool] | None
"""True when the link ran below its best rate ``t`` seconds into the trace."""


def crossed_link(task: dict[str, Any]) -> bool:
    """True when a stage of the task ran off its source's node (so the segment went over the link)."""
    source = task.get("source_node")
    return any(name not in SENTINELS and stage.get("node") not in (None, source) for name, stage in task["dag"].items())


def _bytes(task: dict[str, Any] | None) -> int:
    if not task:
        return 0
    return int(task.get("payload", {}).get("size_bytes") or 0) if crossed_link(task) else 0


def samples(run: RunRecords) -> list[dict[str, Any]]:
    """Per finished task of the window: time since the trace started, latency, accuracy, bytes, knobs."""
    out = []
    seen: set[int] = set()
    for record in run.records:
        if record["kind"] != "result" or not in_window(run, record):
            continue
        task = record["task"]
        if task["task_id"] in seen:
            continue
        seen.add(task["task_id"])
        accuracy = (task.get("accuracy") or {}).get("accuracy")
        out.append(
            {
                "t_s": task["created_at"] - run.started,
                "latency_ms": record["latency"] * 1000.0,
                "accuracy": accuracy,
                "link_bytes": _bytes(task),
                "resolution": task["meta"]["resolution"],
                "fps": task["meta"]["fps"],
                "qp": task["meta"].get("qp"),
                "nodes": sorted({s.get("node") for n, s in task["dag"].items() if n not in SENTINELS}),
            }
        )
    out.sort(key=lambda s: s["t_s"])
    return out


def _drops(run: RunRecords) -> list[dict[str, Any]]:
    finished: set[int] = set()
    results = {int(r["task"]["task_id"]) for r in run.records if r["kind"] == "result" and in_window(run, r)}
    out = []
    for record in run.records:
        if record["kind"] != "drop" or not in_window(run, record):
            continue
        tid = int(record["drop"]["task_id"])
        if tid in results or tid in finished:
            continue
        finished.add(tid)
        out.append(record)
    return out


def summarise(run: RunRecords, slo_ms: float, slow_link: Slow = None) -> dict[str, Any]:
    """The run's figures; ``slow_link`` singles out the tasks made while the trace held the link low."""
    points = samples(run)
    drops = _drops(run)
    unfinished = max(0, (run.end_task - run.first_task) - len(points) - len(drops))
    latencies = np.array([p["latency_ms"] for p in points]) if points else np.array([])
    accuracies = [p["accuracy"] for p in points if p["accuracy"] is not None]
    total = len(points) + len(drops) + unfinished
    late = int((latencies > slo_ms).sum()) if len(latencies) else 0
    link = sum(p["link_bytes"] for p in points) + sum(_bytes(r["drop"].get("task")) for r in drops)
    decision = (run.scheduler.get("decision_ms") or {}).get("p99")
    resolutions: dict[str, int] = {}
    for p in points:
        resolutions[p["resolution"]] = resolutions.get(p["resolution"], 0) + 1
    low_link = None
    if slow_link is not None:
        slow = [p for p in points if slow_link(p["t_s"])]
        slow_drops = [r for r in drops if slow_link(_drop_t(r, run))]
        if slow or slow_drops:
            late_slow = sum(1 for p in slow if p["latency_ms"] > slo_ms) + len(slow_drops)
            low_link = late_slow / (len(slow) + len(slow_drops))
    return {
        "latency_ms_p50": float(np.percentile(latencies, 50)) if len(latencies) else None,
        "latency_ms_p95": float(np.percentile(latencies, 95)) if len(latencies) else None,
        "slo_violation_rate": (late + len(drops) + unfinished) / total if total else None,
        "slo_violation_rate_low_link": low_link,
        "accuracy_f1": statistics.fmean(accuracies) if accuracies else None,
        "link_mbytes": link / 1e6,
        "drop_rate": len(drops) / total if total else None,
        "decision_ms_p99": decision,
        "tasks": len(points),
        "drops": len(drops),
        "unfinished": unfinished,
        "warmup_s": round(run.warmup_s, 1),
        "plans_received": run.generator.get("plans_received"),
        "plan_failures": run.generator.get("plan_failures"),
        "resolutions": resolutions,
        "agent_info": run.scheduler.get("agent_info", {}),
    }


def _drop_t(record: dict[str, Any], run: RunRecords) -> float:
    task = record["drop"].get("task") or {}
    created = task.get("created_at")
    return float(created if created is not None else record["drop"]["at"]) - run.started


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """A policy over its repeats: the mean of each figure, and the spread (max - min) between repeats."""
    out: dict[str, Any] = {}
    spread: dict[str, float | None] = {}
    for metric in METRICS:
        values = [r[metric] for r in runs if r.get(metric) is not None]
        out[metric] = statistics.fmean(values) if values else None
        spread[metric] = (max(values) - min(values)) if len(values) > 1 else None
    if len(runs) > 1:
        out["spread"] = spread
    out["repeats"] = runs
    return out
