"""The feedback contract: what one finished or dropped task tells the scheduler."""

from __future__ import annotations

import pytest

from common.dag import DagSpec, ServiceType, StageSpec, build_dag
from common.feedback import FEEDBACK, DropFeedback, TaskFeedback, drop_feedback, task_feedback
from common.records import DropReason, DropRecord
from common.task import END, START, Meta, Payload, Task

pytestmark = pytest.mark.unit
CATALOG = {"detect": ServiceType(input="frame", output="bbox"), "classify": ServiceType(input="bbox", output="text")}


def finished() -> Task:
    dag = build_dag(
        DagSpec(stages=[StageSpec(name="d", service="detect", next=["c"]), StageSpec(name="c", service="classify")]),
        CATALOG,
    )
    dag[START].node, dag["d"].node, dag["c"].node, dag[END].node = "edge1", "edge1", "cloud", "cloud"
    dag["d"].timings.execute, dag["d"].timings.queue, dag["d"].timings.service = 0.10, 0.02, 0.07
    dag["c"].timings.transmit, dag["c"].timings.execute, dag["c"].timings.service = 0.30, 0.05, 0.04
    dag[END].timings.transmit = 0.01
    dag["d"].scenario = {"obj_num": 4.0, "obj_size": 0.1, "obj_velocity": 0.2}
    dag["c"].scenario = {"obj_num": 2.0}
    return Task(
        source_id="cam1",
        task_id=7,
        source_node="edge1",
        dag=dag,
        meta=Meta(resolution="540p", fps=10, qp=30, buffer_size=8),
        payload=Payload(file_name="seg.mp4", size_bytes=123_456),
        accuracy={"d.f1": 0.5, "accuracy": 0.75},
    )


def test_task_feedback_carries_delay_stages_knobs_bytes_content_accuracy() -> None:
    fb = task_feedback(finished())
    assert fb.delay == pytest.approx(0.10 + 0.30 + 0.05 + 0.01)  # critical path
    assert fb.meta.resolution == "540p" and fb.meta.qp == 30 and fb.frames == 8
    assert fb.segment_bytes == 123_456 and fb.accuracy == 0.75
    by_stage = {s.stage: s for s in fb.stages}
    assert by_stage["d"].node == "edge1" and by_stage["d"].queue == 0.02 and by_stage["d"].service_time == 0.07
    assert by_stage["c"].node == "cloud" and by_stage["c"].transmit == 0.30
    assert fb.offload() == {"d": "edge1", "c": "cloud", END: "cloud"}
    assert fb.content.obj_num == pytest.approx(3.0) and fb.content.obj_size == pytest.approx(0.1)
    assert fb.content.obj_velocity == pytest.approx(0.2)
    # It travels as JSON and comes back as the same record through the discriminated union.
    assert FEEDBACK.validate_json(fb.model_dump_json()) == fb


def test_drop_feedback_keeps_reason_and_knobs_and_both_kinds_are_told_apart() -> None:
    record = DropRecord.of(finished().with_cursor("c"), DropReason.QUEUE_FULL, "full", node="cloud")
    fb = drop_feedback(record)
    assert isinstance(fb, DropFeedback) and fb.reason == "queue_full" and fb.stage == "c" and fb.node == "cloud"
    assert fb.meta is not None and fb.meta.resolution == "540p" and fb.segment_bytes == 123_456
    assert isinstance(FEEDBACK.validate_python(fb.model_dump(mode="json")), DropFeedback)
    assert isinstance(FEEDBACK.validate_python(task_feedback(finished()).model_dump(mode="json")), TaskFeedback)


def test_unknown_fields_and_impossible_values_are_refused() -> None:
    body = task_feedback(finished()).model_dump(mode="json")
    with pytest.raises(ValueError, match="bogus"):
        FEEDBACK.validate_python({**body, "bogus": 1})
    with pytest.raises(ValueError, match="delay"):
        FEEDBACK.validate_python({**body, "delay": -1})
    with pytest.raises(ValueError, match="accuracy"):
        FEEDBACK.validate_python({**body, "accuracy": 1.5})
