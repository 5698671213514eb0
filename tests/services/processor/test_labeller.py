"""The golden labeller: candidates derived from a golden segment and scored against the golden model.

Real parts throughout: real frames (the astronaut photograph), real encoders and decoders, the real Haar
cascade and BlazeFace (from its package), a real processor server on loopback for the endpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from common.derive import kept_frames
from common.feedback import task_feedback
from common.golden import Knobs
from common.results import Detection
from common.task import Meta, Task
from services.processor.app import create_app
from services.processor.applications.face_detection import FaceDetection, FaceDetectionConfig
from services.processor.config import ProcessorConfig
from services.processor.labeller import carried, detector_of, label
from services.processor.settings import ProcessorSettings
from tests import loopback
from tests.servers import serve
from tests.services.processor.segments import astronaut_scene, stage_task, write_segment

pytestmark = pytest.mark.integration


def faces_scene(with_face: bool = True) -> np.ndarray:
    """A 1280x720 grey scene with four astronaut faces of about 90 px, or none."""
    scene = np.full((720, 1280, 3), 90, np.uint8)
    if with_face:
        head = cv2.cvtColor(skdata.astronaut()[20:220, 150:350], cv2.COLOR_RGB2BGR)  # type: ignore[no-untyped-call]
        small = cv2.resize(head, (120, 120), interpolation=cv2.INTER_AREA)
        for x in (100, 400, 700, 1000):
            scene[300:420, x : x + 120] = small
    return scene


def haar(min_size: int = 60) -> FaceDetection:
    return FaceDetection(FaceDetectionConfig(model="haar", min_size=min_size, threads=1))


GOLDEN = Knobs(resolution="720p", fps=10, buffer_size=4)


def test_a_candidate_equal_to_golden_scores_one() -> None:
    frames = [faces_scene() for _ in range(4)]
    report = label(frames, GOLDEN, [GOLDEN], detector_of(haar()))
    assert report.golden_objects >= 4
    (score,) = report.candidates
    assert score.f1 == 1.0 and score.frames_processed == 4 and score.bytes > 0


def test_halving_the_resolution_of_small_objects_scores_lower() -> None:
    """90 px faces become 45 px at 360p, under the cascade's 60 px least size: the candidate misses them."""
    frames = [faces_scene() for _ in range(4)]
    half = Knobs(resolution="360p", fps=10, buffer_size=4)
    report = label(frames, GOLDEN, [GOLDEN, half], detector_of(haar()))
    full, low = report.candidates
    assert low.f1 < full.f1 == 1.0
    assert low.bytes < full.bytes


def test_a_frame_the_candidates_fps_skips_carries_the_last_processed_detections() -> None:
    """Faces in frames 0-1, none in 2-3; 5 of 10 fps keeps frames 1 and 3.

    Frame 0 carries frame 1's faces (hits), frame 2 carries frame 1's faces (false positives where golden
    sees none), frame 3 is processed (nothing): TP = 2n, FP = n, FN = 0, so F1 = 4n / 5n = 0.8."""
    assert kept_frames(4, 10, 5) == [1, 3]
    frames = [faces_scene(True), faces_scene(True), faces_scene(False), faces_scene(False)]
    half_rate = Knobs(resolution="720p", fps=5, buffer_size=4)
    report = label(frames, GOLDEN, [half_rate], detector_of(haar()))
    assert report.candidates[0].frames_processed == 2
    assert report.candidates[0].f1 == pytest.approx(0.8)
    assert report.candidates[0].precision == pytest.approx(2 / 3)
    assert report.candidates[0].recall == 1.0


def test_carried_detections_follow_the_last_processed_frame() -> None:
    a = [Detection(box=(0, 0, 10, 10), label="face")]
    b = [Detection(box=(5, 5, 15, 15), label="face")]
    shown = carried([1, 3], [a, b], 5)
    assert shown == [a, a, a, b, b]


def test_the_model_is_a_knob_of_the_candidate() -> None:
    """Golden labels from BlazeFace; a Haar candidate on the same frames finds the same large faces."""
    frames = [astronaut_scene() for _ in range(2)]
    app = FaceDetection(FaceDetectionConfig(model="haar", threads=1))
    golden = GOLDEN.model_copy(update={"resolution": "480p", "model": "blazeface"})
    report = label(frames, golden, [golden, golden.model_copy(update={"model": "haar"})], detector_of(app))
    assert report.golden_objects == 2
    assert report.candidates[0].f1 == 1.0
    assert 0.0 <= report.candidates[1].f1 <= 1.0 and report.candidates[1].model_s > 0


def test_the_label_endpoint_scores_candidates_and_is_bounded(tmp_path: Path) -> None:
    write_segment(tmp_path / "golden.mp4", [faces_scene() for _ in range(4)])
    body: dict[str, Any] = {
        "file_name": "golden.mp4",
        "golden": GOLDEN.model_dump(),
        "candidates": [GOLDEN.model_dump(), {"resolution": "360p", "fps": 10, "buffer_size": 4}],
    }
    app = {"alias": "face-detection", "params": {"min_size": 60}}
    off = ProcessorConfig.model_validate({"application": app})
    with serve(create_app(ProcessorSettings(work_dir=tmp_path, node="edge1"), off)) as url:
        refused = loopback.post(f"{url}/label", json=body, timeout=60)
        assert refused.status_code == 503 and "not enabled" in refused.text
    on = ProcessorConfig.model_validate(
        {"application": app, "labeller": {"enabled": True, "nodes": ["cloud"], "min_period_s": 3600}}
    )
    with serve(create_app(ProcessorSettings(work_dir=tmp_path, node="edge1"), on)) as url:
        refused = loopback.post(f"{url}/label", json=body, timeout=60)
        assert refused.status_code == 503 and "edge1" in refused.text  # not an allowed node
    with serve(create_app(ProcessorSettings(work_dir=tmp_path, node="cloud"), on)) as url:
        bad = loopback.post(f"{url}/label", json={**body, "candidates": [{"resolution": "360p", "fps": 0}]}, timeout=60)
        assert bad.status_code == 422
        unknown = loopback.post(
            f"{url}/label", json={**body, "golden": {**body["golden"], "model": "yolo"}}, timeout=60
        )
        assert unknown.status_code == 400 and "no model 'yolo'" in unknown.text
        answer = loopback.post(f"{url}/label", json=body, timeout=120)
        assert answer.status_code == 200, answer.text
        report = answer.json()
        assert report["candidates"][0]["f1"] == 1.0
        assert report["candidates"][1]["f1"] < 1.0
        assert report["segment_bytes"] == (tmp_path / "golden.mp4").stat().st_size and report["cpu_s"] > 0
        again = loopback.post(f"{url}/label", json=body, timeout=60)
        assert again.status_code == 503 and "period" in again.text  # one per min_period_s


def test_a_profiling_task_carries_golden_labels_back_in_its_result_and_feedback(tmp_path: Path) -> None:
    """In-band: a golden segment whose plan lists candidates under meta.extra.label is labelled by the cloud
    processor after its own pass; the report reaches the scheduler's feedback. Once per period."""
    write_segment(tmp_path / "golden.mp4", [faces_scene() for _ in range(4)])
    task = stage_task("face-detection", "golden.mp4")
    candidates = [{"resolution": "720p", "fps": 10, "buffer_size": 4}, {"resolution": "360p", "fps": 10}]
    task.meta = Meta(resolution="720p", fps=10, buffer_size=4, extra={"label": candidates})
    config = ProcessorConfig.model_validate(
        {
            "application": {"alias": "face-detection", "params": {"min_size": 60}},
            "labeller": {"enabled": True, "nodes": ["cloud"], "min_period_s": 3600},
        }
    )
    with serve(create_app(ProcessorSettings(work_dir=tmp_path, node="cloud"), config)) as url:
        answer = loopback.post(f"{url}/process", content=task.to_json(), timeout=120)
        assert answer.status_code == 200, answer.text
        done = Task.model_validate(answer.json())
        feedback = task_feedback(done)
        assert feedback.labels is not None
        full, half = feedback.labels.candidates
        assert full.f1 == 1.0 and half.f1 < 1.0 and half.bytes < full.bytes
        again = loopback.post(f"{url}/process", content=task.to_json(), timeout=120)
        extra = again.json()["dag"]["detect"]["result"]["extra"]
        assert "label" not in extra and "period" in extra["label_skipped"]
        info = loopback.get(f"{url}/model", timeout=10).json()
        assert info["labeller"]["served"] == 1 and info["labeller"]["refused"] == 1 and info["labeller"]["cpu_s"] > 0
    with serve(create_app(ProcessorSettings(work_dir=tmp_path, node="edge1"), config)) as url:
        answer = loopback.post(f"{url}/process", content=task.to_json(), timeout=120)
        assert "label" not in answer.json()["dag"]["detect"]["result"]["extra"]  # edge1 may not label
