"""``Task.clone`` (used by ``with_cursor`` on every hop) is a deep copy: nothing of the copy is shared."""

from __future__ import annotations

import pytest

from common.results import Detection, SegmentResult
from common.task import END, START, Payload, Stage, Task

pytestmark = pytest.mark.unit


def _task() -> Task:
    dag = {
        START: Stage(name=START, service=START, next=["s"]),
        "s": Stage(name="s", service="svc", prev=[START], next=[END]),
        END: Stage(name=END, service=END, prev=["s"]),
    }
    dag["s"].result = SegmentResult.model_validate(
        {"application": "svc", "frames": [{"objects": [{"box": [1, 2, 3, 4]}]}], "extra": {"decode_s": 0.1}}
    )
    dag["s"].scenario = {"obj_num": 1.0}
    dag["s"].timings.transmit_from = {START: 0.5}
    return Task(
        source_id="a", task_id=3, source_node="n", dag=dag, payload=Payload(file_name="x.mp4", frame_indices=[1])
    )


def test_clone_is_equal_and_shares_nothing() -> None:
    task = _task()
    copy = task.clone()
    assert copy == task and copy is not task
    result = copy.dag["s"].result
    assert result is not None
    result.frames[0].objects.append(Detection(box=(0, 0, 1, 1)))
    result.extra["decode_s"] = 9.0
    copy.dag["s"].scenario["obj_num"] = 2.0  # type: ignore[index]
    copy.dag["s"].timings.transmit_from[START] = 7.0
    copy.dag["s"].timings.queue = 1.0
    copy.dag["s"].next.append("other")
    copy.payload.frame_indices.append(2)
    copy.meta.extra["knob"] = 1
    assert task == _task().model_copy(
        update={"task_uuid": task.task_uuid, "root_uuid": task.root_uuid, "created_at": task.created_at}
    )


def test_with_cursor_moves_a_copy_and_keeps_identity() -> None:
    task = _task()
    moved = task.with_cursor("s")
    assert (moved.cursor, moved.came_from) == ("s", START)
    assert (task.cursor, task.came_from) == (START, None)
    assert moved.task_uuid == task.task_uuid and moved.root_uuid == task.root_uuid
    assert moved.created_at == task.created_at
