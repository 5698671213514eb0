"""text-detection -> text-recognition on rendered plates (PP-OCRv4 ONNX models from the installed package).

Thresholds come from runs on this synthetic clip (seed 11, 8 frames): at 720p and 360p detection found
every whole plate text (recall 1.0) and recognition read 13 of 15 exactly; the assertions leave a
margin below those figures.
"""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import DecodeError, HookError, InvalidInput
from common.registry import REGISTRY
from common.results import Detection, FrameResult, SegmentResult
from services.processor.applications.text_detection import model_input_size
from services.processor.applications.text_recognition import ctc_decode
from tests.services.processor.applications.synthetic import Clip, scored

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def det():  # type: ignore[no-untyped-def]
    app = REGISTRY.create("application", "text-detection", {"threads": 2})
    app.load()
    return app


@pytest.fixture(scope="module")
def rec():  # type: ignore[no-untyped-def]
    app = REGISTRY.create("application", "text-recognition", {"threads": 2})
    app.load()
    return app


@pytest.mark.parametrize("height", [720, 360])
def test_detection_and_recognition_on_plates(clip: Clip, det, rec, height: int) -> None:  # type: ignore[no-untyped-def]
    frames = clip.at(height)
    boxes = det.process(frames, None)
    assert len(boxes) == len(frames)
    assert all(r.width == frames[0].shape[1] and r.height == height for r in boxes)
    det_scores = scored(clip, "text-detection", boxes)
    assert det_scores["recall"] >= 0.9, det_scores
    assert det_scores["f1"] >= 0.7, det_scores
    upstream = SegmentResult(application="text-detection", frames=boxes)
    texts = rec.process(frames, upstream)
    rec_scores = scored(clip, "text-recognition", texts, upstream)
    assert rec_scores["text_exact"] >= 0.7, rec_scores
    assert rec_scores["char_accuracy"] >= 0.9, rec_scores
    truth_texts = {o["text"] for t in clip.truth for o in t["objects"] if o["class"] == "text" and not o.get("ignore")}
    read = {o.text for r in texts for o in r.objects}
    assert len(truth_texts & read) >= 0.7 * len(truth_texts)


def test_model_input_is_bounded_and_aligned() -> None:
    assert model_input_size(1920, 1080, 960) == (960, 544)
    assert model_input_size(1280, 720, 960) == (960, 544)
    w, h = model_input_size(640, 360, 960)
    assert (w, h) == (640, 352)
    w, h = model_input_size(1000, 30, 1000)
    assert w <= 992 and w % 32 == 0 and h == 32


def test_ctc_decode_collapses_repeats_and_drops_blanks() -> None:
    chars = ["<blank>", "A", "B", " "]
    steps = [1, 1, 0, 1, 2, 2, 0, 0, 3]  # A A _ A B B _ _ space -> "AAB "
    probs = np.full((len(steps), 4), 0.01, np.float32)
    for t, c in enumerate(steps):
        probs[t, c] = 0.97
    text, score = ctc_decode(probs, chars)
    assert text == "AAB "
    assert score == pytest.approx(0.97)


def test_recognition_needs_upstream_boxes(rec, clip: Clip) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="previous stage"):
        rec.process(clip.frames[:1], None)


def test_recognition_scales_boxes_from_another_frame_size(rec, clip: Clip) -> None:  # type: ignore[no-untyped-def]
    text = next(o for o in clip.truth[0]["objects"] if o["class"] == "text" and not o.get("ignore"))
    x1, y1, x2, y2 = text["box"]
    half = (x1 / 2 - 3, y1 / 2 - 3, x2 / 2 + 3, y2 / 2 + 3)  # the box as a stage at 640x360 reported it
    upstream = SegmentResult(
        application="text-detection",
        frames=[FrameResult(width=640, height=360, objects=[Detection(box=half, label="text")])],
    )
    (result,) = rec.process(clip.frames[:1], upstream)
    assert [o.text for o in result.objects] == [text["text"]]


@pytest.mark.parametrize("alias", ["text-detection", "text-recognition"])
def test_empty_and_corrupt_segments_are_decode_errors(alias: str, det, rec) -> None:  # type: ignore[no-untyped-def]
    app = det if alias == "text-detection" else rec
    upstream = SegmentResult(application="x", frames=[])
    with pytest.raises(DecodeError, match="no frame"):
        app.process([], upstream)
    with pytest.raises(DecodeError, match="not a BGR uint8 image"):
        app.process([np.zeros((100, 100), np.float32)], upstream)


def test_unknown_runtime_is_refused_with_the_known_ones() -> None:
    app = REGISTRY.create("application", "text-detection", {"runtime": "nope"})
    with pytest.raises(HookError, match=r"known: .*onnxruntime"):
        app.load()


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(HookError, match="threshold"):
        REGISTRY.create("application", "text-detection", {"threshold": 2})
    with pytest.raises(HookError, match="colour: Extra inputs"):
        REGISTRY.create("application", "text-recognition", {"colour": "red"})
