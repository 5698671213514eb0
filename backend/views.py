"""Visualization data: what the dashboard draws for one result record, and for one system snapshot."""

from __future__ import annotations

from typing import Any, Literal

from backend.contracts.views import ResultView, StageView, SystemSnapshot
from common.contracts.distributor import ResultRecord
from common.contracts.scheduler import ResourceSnapshot, SchedulerStats
from common.dag import critical_path
from common.results import SegmentResult
from common.task import SENTINELS


def _objects(result: SegmentResult | None) -> list[dict[str, Any]]:
    """Objects of every frame of one stage's result, frame index attached."""
    if result is None:
        return []
    return [
        {**obj.model_dump(mode="json"), "frame_index": frame.frame_index}
        for frame in result.frames
        for obj in frame.objects
    ]


def _first_frame_index(result: SegmentResult | None) -> int | None:
    """Source index of the segment's first frame, the one its frame image shows."""
    return result.frames[0].frame_index if result is not None and result.frames else None


def _frame_count(result: SegmentResult | None) -> int:
    return max(1, len(result.frames)) if result is not None else 1


def result_view(
    record: ResultRecord,
    *,
    deployment: dict[str, list[str]] | None = None,
    accuracy_reference: Literal["ground_truth", "golden"] | None = None,
) -> ResultView:
    """One distributor record as the variables the result views draw; ``accuracy_reference`` says what its
    source's accuracy is measured against (see ``SourceEntry.accuracy_reference``)."""
    view = ResultView(
        seq=record.seq,
        kind=record.kind,
        source_id=record.source_id,
        task_id=record.task_id,
        reason=record.reason,
        deployment=deployment or {},
        accuracy_reference=accuracy_reference,
    )
    task = record.task
    if task is None:
        return view
    stages = {n: s for n, s in task.dag.items() if n not in SENTINELS}
    path_delay, path = critical_path(task.dag)
    delay = record.latency if record.latency is not None else path_delay
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
            "frame_index": _first_frame_index(first_detector.result) if first_detector else None,
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


def system_view(resources: ResourceSnapshot, stats: SchedulerStats, at: float) -> SystemSnapshot:
    """The scheduler's latest resource report per node and its decision times as system view variables."""
    reports = resources.root
    return SystemSnapshot(
        at=at,
        cpu={node: r.cpu for node, r in reports.items()},
        memory={node: r.memory for node, r in reports.items()},
        bandwidth={node: r.bandwidth_mbps for node, r in reports.items()},
        queue_length={node: r.queue_lengths for node, r in reports.items()},
        scheduling_overhead=stats.decision_ms.p50,
    )
