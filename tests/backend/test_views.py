"""Visualization data from real task records, and frames rendered from a real video segment."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from backend.routers.results import render_frame
from backend.views import result_view, system_view
from common.contracts.distributor import ResultRecord
from common.contracts.scheduler import DecisionSummary, ResourceSnapshot, SchedulerStats
from common.dag import DagSpec, ServiceType, build_dag
from common.errors import DecodeError
from common.plan import ResourceReport
from common.results import SegmentResult
from common.task import Meta, Payload, StageTimings, Task

pytestmark = pytest.mark.unit
TYPES = {"det": ServiceType(input="frame", output="bbox"), "rec": ServiceType(input="bbox", output="text")}


def record(seq: int, *, kind: str = "result", task: Task | None = None, **fields: object) -> ResultRecord:
    return ResultRecord.model_validate(
        {"seq": seq, "kind": kind, "source_id": "s", "task_id": 3, "task_uuid": "u", "root_uuid": "u",
         "latency": None, "wall_latency": None, "stored_at": 1.0, "task": task, **fields}
    )  # fmt: skip


def finished_task() -> Task:
    spec = DagSpec.model_validate(
        {"stages": [{"name": "a", "service": "det", "next": ["b"]}, {"name": "b", "service": "rec"}]}
    )
    dag = build_dag(spec, TYPES)
    dag["a"].node, dag["b"].node = "edge1", "cloud"
    dag["a"].timings = StageTimings(transmit=0.01, execute=0.05)
    dag["b"].timings = StageTimings(transmit=0.2, execute=0.02)
    box = {"box": [10, 10, 50, 30], "label": "plate", "score": 0.9}
    dag["a"].result = SegmentResult.model_validate(
        {"application": "det", "frames": [{"frame_index": 0, "objects": [box, box]}, {"frame_index": 1, "objects": []}]}
    )
    dag["b"].result = SegmentResult.model_validate(
        {"application": "rec", "frames": [{"frame_index": 0, "objects": [{**box, "text": "AB123"}]}]}
    )
    dag["a"].done = dag["b"].done = True
    return Task(source_id="s", task_id=3, source_node="edge1", dag=dag, cursor="_end", meta=Meta(buffer_size=2),
                payload=Payload(file_name="seg.mp4"), accuracy={"f1": 0.5})  # fmt: skip


def test_result_view_has_every_variable() -> None:
    view = result_view(record(7, task=finished_task())).model_dump()
    assert view["delay"] == pytest.approx(0.28)
    assert view["frame_delay"] == pytest.approx(0.14)
    assert view["critical_path"] == ["_start", "a", "b", "_end"]
    assert view["stage_delay"] == {"a": pytest.approx(0.06), "b": pytest.approx(0.22)}
    assert view["object_count"] == 1.0  # two boxes over two frames
    assert view["texts"] == ["AB123"] and view["accuracy"] == {"f1": 0.5}
    assert view["offloading"] == {"a": "edge1", "b": "cloud"} and view["segment"] == "seg.mp4"
    assert view["frame_index"] == 0  # the first frame of the detecting stage's result


def test_a_view_says_what_its_accuracy_is_measured_against() -> None:
    assert result_view(record(7, task=finished_task())).accuracy_reference is None
    golden = result_view(record(7, task=finished_task()), accuracy_reference="golden")
    assert golden.accuracy_reference == "golden" and golden.accuracy == {"f1": 0.5}
    with pytest.raises(ValidationError):
        result_view(record(7, task=finished_task()), accuracy_reference="guess")  # type: ignore[arg-type]


def test_drop_without_task_and_garbage_task_still_give_a_view() -> None:
    drop = result_view(record(1, kind="drop", reason="queue_full"))
    assert drop.kind == "drop" and drop.reason == "queue_full" and drop.delay is None


def test_the_distributors_latency_wins_over_the_one_computed_here() -> None:
    assert result_view(record(7, task=finished_task(), latency=1.5)).delay == 1.5


def test_a_reply_outside_the_record_contract_is_refused_not_guessed() -> None:
    with pytest.raises(ValidationError):
        ResultRecord.model_validate({**record(1).model_dump(), "latency": {"end_to_end": 0.3}})


def test_system_view() -> None:
    report = ResourceReport(node="cloud", at=1.0, cpu=0.5, memory=0.25, queue_lengths={"det": 2})
    summary = DecisionSummary(count=3, window=3, p50=1.5, p95=2.0, p99=2.0, mean=1.6, max=2.0)
    stats = SchedulerStats(
        decision_ms=summary, plans_served=3, agents={}, history={}, agent_info={}, feedback={},
        nodes_reporting=["cloud"], deployment_version=1,
    )  # fmt: skip
    view = system_view(ResourceSnapshot({"cloud": report}), stats, 10.0).model_dump()
    assert view["cpu"] == {"cloud": 0.5} and view["queue_length"] == {"cloud": {"det": 2}}
    assert view["scheduling_overhead"] == 1.5


def test_frame_rendering_from_a_real_segment(tmp_path: Path) -> None:
    path = tmp_path / "seg.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, (160, 120))
    for _ in range(3):
        writer.write(np.full((120, 160, 3), 40, np.uint8))
    writer.release()
    jpeg = render_frame(path.read_bytes(), [{"box": [10, 10, 60, 60], "label": "face", "frame_index": 0}])
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    assert image.shape == (120, 160, 3)
    assert image[10, 30, 1] > 150  # the green box was drawn
    # only the boxes of the frame shown: those of a later frame of the segment are not drawn on it
    later = render_frame(path.read_bytes(), [{"box": [10, 10, 60, 60], "label": "face", "frame_index": 2}], 0)
    shown = cv2.imdecode(np.frombuffer(later, np.uint8), cv2.IMREAD_COLOR)
    assert shown[10, 30, 1] < 100
    with pytest.raises(DecodeError):
        render_frame(b"not a video", [])
