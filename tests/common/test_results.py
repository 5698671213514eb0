"""The result contract takes numbers and flags as JSON Schema says, as every request body's do (common.strict)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import BaseModel, ValidationError

from common.results import Detection, FrameResult, SegmentResult

pytestmark = pytest.mark.unit


def test_a_result_reads_back_from_its_json() -> None:
    frame = FrameResult(frame_index=3, width=640, height=480, objects=[Detection(box=(1, 2.5, 30, 40), score=0.9)])
    result = SegmentResult(application="face-detection", classes=["face"], frames=[frame], extra={"decode_ms": 2.0})
    assert SegmentResult.model_validate_json(result.model_dump_json()) == result
    assert SegmentResult.model_validate(json.loads(result.model_dump_json())) == result


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (Detection, {"box": [0, 0, 1, 1], "score": True}, "score"),
        (Detection, {"box": [False, 0, 1, 1]}, "box"),
        (Detection, {"box": [0, 0, 1, 1], "track_id": "7"}, "track_id"),
        (FrameResult, {"width": 3.0}, "width"),
        (FrameResult, {"frame_index": False}, "frame_index"),
        (SegmentResult, {"application": "x", "reads_text": 0}, "reads_text"),
    ],
)
def test_values_of_another_json_type_are_refused(model: type[BaseModel], body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        model.model_validate(body)


def test_applications_may_give_python_and_numpy_float64_numbers() -> None:
    detection = Detection(box=(np.float64(1.5), 2, 3.0, 4), score=np.float64(0.5))
    assert detection.box == (1.5, 2.0, 3.0, 4.0) and detection.score == 0.5
