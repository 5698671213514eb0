"""Figures of one run, and of a policy over its repeats."""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np

from backend.benchpolicies.runner import RunRecords
from common.task import SENTINELS

METRICS = (
    "latency_ms_p50",
    "latency_ms_p95",
    "slo_violation_rate",
    "accuracy_f1",
    "link_mbytes",
    "drop_rate",
    "decision_ms_p99",
    "tasks",
)


def crossed_link(task: dict[str, Any]) -> bool:
    """True when a stage of the task ran off its source's node (so the segment went over the link)."""
    source = task.get("source_node")
    return any(name not in SENTINELS and stage.get("node") not in (None, source) for name, stage in task["dag"].items())


def _bytes(task: dict[str, Any] | None) -> int:
    if not task:
        return 0
    return int(task.get("payload", {}).get("size_bytes") or 0) if crossed_link(task) else 0


def samples(run: RunRecords) -> list[dict[str, Any]]:
    """Per finished task: time since install, latency, accuracy, bytes over the link, knobs."""
    out = []
    for record in run.records:
        if record["kind"] != "result":
            continue
        task = record["task"]
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


def summarise(run: RunRecords, slo_ms: float) -> dict[str, Any]:
    points = samples(run)
    drops = [r for r in run.records if r["kind"] == "drop"]
    latencies = np.array([p["latency_ms"] for p in points]) if points else np.array([])
    accuracies = [p["accuracy"] for p in points if p["accuracy"] is not None]
    total = len(points) + len(drops)
    late = int((latencies > slo_ms).sum()) if len(latencies) else 0
    link = sum(p["link_bytes"] for p in points) + sum(_bytes(r["drop"].get("task")) for r in drops)
    decision = (run.scheduler.get("decision_ms") or {}).get("p99")
    resolutions: dict[str, int] = {}
    for p in points:
        resolutions[p["resolution"]] = resolutions.get(p["resolution"], 0) + 1
    return {
        "latency_ms_p50": float(np.percentile(latencies, 50)) if len(latencies) else None,
        "latency_ms_p95": float(np.percentile(latencies, 95)) if len(latencies) else None,
        "slo_violation_rate": (late + len(drops)) / total if total else None,
        "accuracy_f1": statistics.fmean(accuracies) if accuracies else None,
        "link_mbytes": link / 1e6,
        "drop_rate": len(drops) / total if total else None,
        "decision_ms_p99": decision,
        "tasks": len(points),
        "drops": len(drops),
        "resolutions": resolutions,
        "agent_info": run.scheduler.get("agent_info", {}),
    }


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
