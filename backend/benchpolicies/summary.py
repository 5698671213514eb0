"""Figures of one run, and of a policy over its repeats.

:func:`summarise_records` is the one summary of distributor records: the policy benchmark uses it per
run, ``dayuctl analyze`` per source of a results export, so an operator's run and a benchmark run read
alike. Per-task figures are also given per second of video (``*_per_video_s``).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from backend.benchpolicies.runner import RunRecords, in_window
from common.task import SENTINELS, Meta

METRICS = (
    "latency_ms_p50",
    "latency_ms_p95",
    "latency_ms_p99",
    "slo_violation_rate",
    "slo_violation_rate_low_link",
    "slo_violation_rate_per_video_s",
    "accuracy_f1",
    "accuracy_f1_per_video_s",
    "accuracy_f1_ground_truth",
    "accuracy_f1_golden",
    "accuracy_f1_tasks",
    "link_mbytes",
    "link_mbytes_per_video_s",
    "task_mbytes",
    "probe_mbytes",
    "drop_rate",
    "decision_ms_p99",
    "tasks",
)
DEFAULT_FRAMES = Meta.model_fields["buffer_size"].default
DEFAULT_FPS = Meta.model_fields["fps"].default
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
                "task_id": task["task_id"],
                "t_s": task["created_at"] - run.started,
                "latency_ms": record["latency"] * 1000.0,
                "accuracy": accuracy,
                "link_bytes": _bytes(task),
                "resolution": task["meta"]["resolution"],
                "fps": task["meta"]["fps"],
                "qp": task["meta"].get("qp"),
                "nodes": sorted({s.get("node") for n, s in task["dag"].items() if n not in SENTINELS}),
                "placement": _placement(task),
                "stages": {n: s.get("node") for n, s in task["dag"].items() if n not in SENTINELS},
                "video_s": video_s(task, DEFAULT_FRAMES / DEFAULT_FPS),
            }
        )
    out.sort(key=lambda s: s["t_s"])
    return out


def window_drops(run: RunRecords) -> list[dict[str, Any]]:
    """The window's drop records, one per task that has no result."""
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


def video_s(task: dict[str, Any] | None, default: float) -> float:
    """Seconds of source video a task covers: its frames over the fps they were kept at."""
    meta = (task or {}).get("meta") or {}
    fps = meta.get("fps")
    frames = meta.get("buffer_size", DEFAULT_FRAMES)
    return float(frames) / float(fps) if fps else default


def _placement(task: dict[str, Any]) -> str:
    return ",".join(f"{name}@{stage.get('node')}" for name, stage in task["dag"].items() if name not in SENTINELS)


def timeline(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The configurations and placements over time: one entry per run of consecutive tasks (by creation)
    made with the same knobs on the same nodes."""
    spans: list[dict[str, Any]] = []
    for p in points:
        key = {"resolution": p["resolution"], "fps": p["fps"], "qp": p["qp"], "placement": p["placement"]}
        if spans and all(spans[-1][k] == v for k, v in key.items()):
            spans[-1]["to_s"] = p["t_s"]
            spans[-1]["tasks"] += 1
        else:
            spans.append({"from_s": p["t_s"], "to_s": p["t_s"], "tasks": 1, **key})
    return spans


def summarise_records(
    records: list[dict[str, Any]],
    *,
    slo_ms: float,
    started: float,
    first_task: int,
    end_task: int,
    slow_link: Slow = None,
    accuracy_reference: str | None = None,
) -> dict[str, Any]:
    """The figures of one source's records whose task ids lie in [first_task, end_task): what the policy
    benchmark reports per run and ``dayuctl analyze`` per source of an export. A task id in the range
    with neither a result nor a drop record counts as unfinished (a violation). Time 0 is ``started``."""
    run = RunRecords(policy="", repeat=0, started=started, duration_s=0.0, first_task=first_task, end_task=end_task)
    run.records = records
    points = samples(run)
    drops = window_drops(run)
    unfinished = max(0, (end_task - first_task) - len(points) - len(drops))
    latencies = np.array([p["latency_ms"] for p in points]) if points else np.array([])
    accuracies = [p["accuracy"] for p in points if p["accuracy"] is not None]
    total = len(points) + len(drops) + unfinished
    late = int((latencies > slo_ms).sum()) if len(latencies) else 0
    link = sum(p["link_bytes"] for p in points) + sum(_bytes(r["drop"].get("task")) for r in drops)
    video = _per_video_s(points, drops, unfinished, slo_ms)
    return {
        **_percentiles(latencies),
        "slo_violation_rate": (late + len(drops) + unfinished) / total if total else None,
        "slo_violation_rate_low_link": _low_link_violations(run, points, drops, slo_ms, slow_link),
        "accuracy_f1": statistics.fmean(accuracies) if accuracies else None,
        "accuracy_reference": accuracy_reference if accuracies else None,
        "link_mbytes": link / 1e6,
        "drop_rate": len(drops) / total if total else None,
        "tasks": len(points),
        "drops": len(drops),
        "unfinished": unfinished,
        "drops_by_reason": _drops_by_reason(drops, unfinished),
        "video_s": video.total,
        "slo_violation_rate_per_video_s": video.late / video.total if video.total else None,
        "accuracy_f1_per_video_s": video.accuracy,
        "link_mbytes_per_video_s": link / 1e6 / video.total if video.total else None,
        "resolutions": dict(Counter(p["resolution"] for p in points)),
        "timeline": timeline(points),
    }


def _percentiles(latencies: np.ndarray) -> dict[str, float | None]:
    return {f"latency_ms_p{q}": float(np.percentile(latencies, q)) if len(latencies) else None for q in (50, 95, 99)}


def _drops_by_reason(drops: list[dict[str, Any]], unfinished: int) -> dict[str, int]:
    """Drops counted by reason, sorted by it; tasks that ended neither way count as ``unfinished``."""
    reasons = Counter(str(r.get("reason") or r["drop"].get("reason") or "unknown") for r in drops)
    if unfinished:
        reasons["unfinished"] = unfinished
    return dict(sorted(reasons.items()))


def _low_link_violations(
    run: RunRecords, points: list[dict[str, Any]], drops: list[dict[str, Any]], slo_ms: float, slow_link: Slow
) -> float | None:
    """The share of the tasks made while the link was low that were late or dropped; None: no such task."""
    if slow_link is None:
        return None
    slow = [p for p in points if slow_link(p["t_s"])]
    slow_drops = [r for r in drops if slow_link(_drop_t(r, run))]
    if not slow and not slow_drops:
        return None
    late_slow = sum(1 for p in slow if p["latency_ms"] > slo_ms) + len(slow_drops)
    return late_slow / (len(slow) + len(slow_drops))


@dataclass(frozen=True)
class _VideoSeconds:
    total: float
    """Seconds of video the window's tasks cover, dropped and unfinished ones included."""
    late: float
    """Of which late, dropped or unfinished."""
    accuracy: float | None
    """The tasks' accuracy weighed by the video each covers; None: no task was scored."""


def _per_video_s(
    points: list[dict[str, Any]], drops: list[dict[str, Any]], unfinished: int, slo_ms: float
) -> _VideoSeconds:
    """Per second of video: each task weighs the video it covers, so a policy that raises fps (more, shorter
    tasks) does not weigh more; a dropped or unfinished task weighs what a typical task of the run does."""
    spans = [p["video_s"] for p in points]
    typical = float(np.median(spans)) if spans else DEFAULT_FRAMES / DEFAULT_FPS
    dropped = sum(video_s(r["drop"].get("task"), typical) for r in drops)
    scored = [(p["accuracy"], p["video_s"]) for p in points if p["accuracy"] is not None]
    scored_s = sum(w for _, w in scored)
    return _VideoSeconds(
        total=sum(spans) + dropped + unfinished * typical,
        late=sum(p["video_s"] for p in points if p["latency_ms"] > slo_ms) + dropped + unfinished * typical,
        accuracy=sum(a * w for a, w in scored) / scored_s if scored_s else None,
    )


def summarise(
    run: RunRecords, slo_ms: float, slow_link: Slow = None, accuracy_reference: str | None = "ground_truth"
) -> dict[str, Any]:
    """The run's figures; ``slow_link`` singles out the tasks made while the trace held the link low.

    The bytes on the link are the tasks' and the edges' bandwidth probes' of the window (``task_mbytes``,
    ``probe_mbytes``, summed in ``link_mbytes``); when the probe's are unknown, so is the sum."""
    figures = summarise_records(
        run.records,
        slo_ms=slo_ms,
        started=run.started,
        first_task=run.first_task,
        end_task=run.end_task,
        slow_link=slow_link,
        accuracy_reference=accuracy_reference,
    )
    figures.update(
        decision_ms_p99=(run.scheduler.get("decision_ms") or {}).get("p99"),
        warmup_s=round(run.warmup_s, 1),
        plans_received=run.generator.get("plans_received"),
        plan_failures=run.generator.get("plan_failures"),
        agent_info=run.scheduler.get("agent_info", {}),
    )
    figures.update(_with_probe(figures, run))
    return figures


def _with_probe(figures: dict[str, Any], run: RunRecords) -> dict[str, Any]:
    tasks: float = figures["link_mbytes"]
    link: float | None = tasks  # records not from a benchmark run: no probe was counted, the tasks' bytes alone
    probe = None
    if run.probe_bytes is not None:
        probe = run.probe_bytes / 1e6
        link = tasks + probe
    elif run.probe_unknown is not None:
        link = None  # never the tasks' bytes passed off as the link's
    video = figures["video_s"]
    return {
        "task_mbytes": tasks,
        "probe_mbytes": probe,
        "probe_unknown": run.probe_unknown,
        "link_mbytes": link,
        "link_mbytes_per_video_s": link / video if link is not None and video else None,
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
