"""``common.accuracy`` scores a stage's SegmentResult against the ground truth its frames carry: on the classes
its application declares (else the labels it output), boxes scaled to source pixels, "don't care" regions
neither hits nor misses, and the text a reading stage reads."""

from __future__ import annotations

import pytest

from common.accuracy import score_task
from common.results import Detection, FrameResult, SegmentResult
from common.task import END, START, Payload, RawMeta, Stage, Task

pytestmark = pytest.mark.unit


def task_with(result: SegmentResult, truth: list[dict[str, object]], width: int = 200, height: int = 100) -> Task:
    dag = {
        START: Stage(name=START, service=START, next=["s"], done=True),
        "s": Stage(name="s", service="svc", prev=[START], next=[END], done=True, result=result),
        END: Stage(name=END, service=END, prev=["s"]),
    }
    return Task(
        source_id="cam",
        task_id=0,
        source_node="edge1",
        dag=dag,
        raw_meta=RawMeta(width=width, height=height),
        payload=Payload(frame_indices=list(range(len(truth))), ground_truth=truth),
    )


def frame(*boxes: tuple[float, float, float, float], label: str = "object", text: str | None = None) -> FrameResult:
    return FrameResult(width=100, height=50, objects=[Detection(box=b, label=label, text=text) for b in boxes])


def test_declared_classes_pick_the_truth_and_every_detection_counts() -> None:
    truth = [{"objects": [{"class": "face", "box": [0, 0, 20, 20]}, {"class": "person", "box": [100, 0, 180, 90]}]}]
    # Boxes in processed pixels (100x50): scaled by 2 to the source's 200x100.
    result = SegmentResult(application="faces", classes=["face"], frames=[frame((0, 0, 10, 10))])
    scores = score_task(task_with(result, truth))
    assert scores == {"s.precision": 1.0, "s.recall": 1.0, "s.f1": 1.0, "accuracy": 1.0}


def test_without_declared_classes_the_output_labels_are_the_classes() -> None:
    truth = [{"objects": [{"class": "car", "box": [0, 0, 20, 20]}, {"class": "car", "box": [40, 0, 60, 20]}]}]
    result = SegmentResult(application="yolo", frames=[frame((0, 0, 10, 10), (150, 40, 160, 50), label="car")])
    scores = score_task(task_with(result, truth))
    assert scores is not None
    assert (scores["s.precision"], scores["s.recall"], scores["s.f1"]) == (0.5, 0.5, 0.5)


def test_a_detection_inside_a_dont_care_region_is_neither_hit_nor_false_positive() -> None:
    truth = [{"objects": [{"class": "face", "box": [0, 0, 20, 20], "ignore": True}]}]
    result = SegmentResult(application="faces", classes=["face"], frames=[frame((0, 0, 10, 10))])
    assert score_task(task_with(result, truth)) == {"s.precision": 1.0, "s.recall": 1.0, "s.f1": 1.0, "accuracy": 1.0}


def test_a_reading_stage_is_scored_by_the_text_it_reads() -> None:
    truth = [{"objects": [{"class": "text", "box": [0, 0, 20, 20], "text": "AB12"}]}]
    result = SegmentResult(
        application="ocr", classes=["text"], reads_text=True, frames=[frame((0, 0, 10, 10), label="plate", text="AB1")]
    )
    scores = score_task(task_with(result, truth))
    assert scores is not None
    assert scores["s.f1"] == 1.0 and scores["s.text_exact"] == 0.0 and scores["s.char_accuracy"] == 0.75
    assert scores["accuracy"] == 0.0  # a text stage's headline is its exact reads


def test_no_class_or_no_frame_with_truth_scores_nothing() -> None:
    truth = [{"objects": [{"class": "face", "box": [0, 0, 20, 20]}]}]
    assert score_task(task_with(SegmentResult(application="empty", frames=[frame()]), truth)) is None
    late = SegmentResult(application="faces", classes=["face"], frames=[frame(), frame()])
    late.frames[0].frame_index = late.frames[1].frame_index = 0  # the same truth entry twice: scored once
    scores = score_task(task_with(late, truth))
    assert scores is not None and scores["s.recall"] == 0.0
