"""Visualization data: what the dashboard draws for one result record, and for one system snapshot."""

from __future__ import annotations

from typing import Any

from backend.contracts.views import ResultView, StageView, SystemSnapshot
from common.dag import critical_path
from common.errors import InvalidInput
from common.task import SENTINELS, Task


def _objects(result: Any) -> list[dict[str, Any]]:
    """Objects of every frame of one stage's result (``SegmentResult`` as a dict), frame index attached."""
    if not isinstance(result, dict):
        return []
    out = []
    for frame in result.get("frames", []) or []:
        if isinstance(frame, dict):
            for obj in frame.get("objects", []) or []:
                if isinstance(obj, dict):
                    out.append({**obj, "frame_index": frame.get("frame_index")})
    return out


def _frame_count(result: Any) -> int:
    if isinstance(result, dict):
        return max(1, len(result.get("frames", []) or []))
    return 1


def result_view(record: dict[str, Any], *, deployment: dict[str, list[str]] | None = None) -> ResultView:
    """One distributor record as the variables the result views draw."""
    view = ResultView(
        seq=record.get("seq"),
        kind=record.get("kind", "result"),
        source_id=record.get("source_id"),
        task_id=record.get("task_id"),
        reason=record.get("reason"),
        deployment=deployment or {},
    )
    raw_task = record.get("task")
    if not isinstance(raw_task, dict):
        return view
    try:
        task = Task.from_dict(raw_task)
    except InvalidInput:
        return view
    stages = {n: s for n, s in task.dag.items() if n not in SENTINELS}
    path_delay, path = critical_path(task.dag)
    latency = record.get("latency")  # the distributor's critical path; computed here when it has none
    delay = float(latency) if latency is not None else path_delay
    first_detector = next((s for s in stages.values() if s.done and _objects(s.result)), None)
    boxes = _objects(first_detector.result) if first_detector else []
    frames = _frame_count(first_detector.result) if first_detector else 1
    texts = [o["text"] for s in stages.values() for o in _objects(s.result) if o.get("text")]
    return view.model_copy(
        update={
            "delay": round(delay, 4),
            "frame_delay": round(delay / max(1, task.meta.buffer_size), 4),
            "critical_path": path,
            "stage_delay": {n: round(s.timings.cost(), 4) for n, s in stages.items()},
            "stage_timings": {n: s.timings for n, s in stages.items()},
            "object_count": round(len(boxes) / frames, 3),
            "objects": boxes[:200],
            "texts": [str(t) for t in texts[:100]],
            "accuracy": task.accuracy,
            "offloading": {n: s.node for n, s in stages.items()},
            "meta": task.meta,
            "segment": task.payload.file_name,
            "created_at": task.created_at,
            "finished_at": task.finished_at,
            "dag": {n: StageView(service=s.service, next=s.next, node=s.node) for n, s in task.dag.items()},
        }
    )


def system_view(resources: Any, stats: Any, at: float) -> SystemSnapshot:
    """Scheduler figures (latest resource report per node, decision times) as system view variables."""
    reports: dict[str, Any] = {}
    if isinstance(resources, dict):
        reports = resources.get("nodes", resources) if isinstance(resources.get("nodes"), dict) else resources
    cpu, memory, bandwidth, queues = {}, {}, {}, {}
    for node, report in reports.items():
        if not isinstance(report, dict):
            continue
        cpu[node] = report.get("cpu")
        memory[node] = report.get("memory")
        bandwidth[node] = report.get("bandwidth_mbps")
        queues[node] = report.get("queue_lengths", {})
    overhead = None
    if isinstance(stats, dict):
        decision = stats.get("decision_ms") or stats.get("decision") or {}
        overhead = decision.get("p50") if isinstance(decision, dict) else decision
    return SystemSnapshot(
        at=at, cpu=cpu, memory=memory, bandwidth=bandwidth, queue_length=queues, scheduling_overhead=overhead
    )
