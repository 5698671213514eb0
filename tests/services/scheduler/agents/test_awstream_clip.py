"""``awstream`` on real frames with no ground truth: the real golden labeller (the processor's code) scores
the agent's own candidates on a real MP4 clip, online (one golden segment) and offline (``python -m
backend.awstream_profile`` on a clip). The models are the face-detection application's, from packages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from backend.awstream_profile import main
from common.golden import LABEL_KEY, Knobs, LabelReport
from services.processor.applications.face_detection import FaceDetection, FaceDetectionConfig
from services.processor.decode import decode_segment
from services.processor.labeller import detector_of, label
from tests.services.processor.segments import write_segment
from tests.services.scheduler.agents.synthetic import feed, request
from tests.services.scheduler.agents.test_awstream import World

pytestmark = pytest.mark.integration


def faces(shift: int) -> np.ndarray:
    """A 1280x720 grey frame with three astronaut faces of 120 px (60 px at 360p: under the cascade's
    smallest face), moved ``shift`` px to the right."""
    head = cv2.cvtColor(skdata.astronaut()[20:220, 150:350], cv2.COLOR_RGB2BGR)  # type: ignore[no-untyped-call]
    small = cv2.resize(head, (120, 120), interpolation=cv2.INTER_AREA)
    frame = np.full((720, 1280, 3), 90, np.uint8)
    for x in (100, 500, 900):
        frame[300 : 300 + 120, x + shift : x + shift + 120] = small
    return frame


def portrait(shift: int) -> np.ndarray:
    """A 1280x720 grey frame with the astronaut's head and shoulders at 200 px (BlazeFace finds it at
    720p and 360p), moved ``shift`` px to the right."""
    crop = cv2.cvtColor(skdata.astronaut()[0:256, 128:384], cv2.COLOR_RGB2BGR)  # type: ignore[no-untyped-call]
    frame = np.full((720, 1280, 3), 90, np.uint8)
    frame[100:300, 300 + shift : 500 + shift] = cv2.resize(crop, (200, 200), interpolation=cv2.INTER_AREA)
    return frame


def test_a_real_clip_with_no_ground_truth_gives_a_pareto_set(tmp_path: Path) -> None:
    """The agent's own golden plan, labelled by the real labeller (the processor's code) on a real MP4
    clip of real faces (the astronaut photograph) with no ground truth anywhere; its labels come back in
    the feedback as the cloud processor returns them, and the agent serves from the Pareto set they give."""
    ladders: dict[str, list[Any]] = {"resolution": ["360p", "720p"], "fps": [5.0, 15.0]}
    world = World({"ladders": ladders, "golden_frames": 8, "batch": 16}, mbps=5.0, monitor_mbps=5.0)
    plan = world.agent.decide(request())
    asked = [Knobs.model_validate(c) for c in plan.meta.extra[LABEL_KEY]]
    assert {(k.resolution, k.fps) for k in asked} == {(r, f) for r in ladders["resolution"] for f in ladders["fps"]}
    clip = write_segment(tmp_path / "golden.mp4", [faces(6 * i) for i in range(8)], fps=plan.meta.fps)
    frames = decode_segment(clip, max_frames=100)
    golden = Knobs(resolution=plan.meta.resolution, fps=plan.meta.fps, buffer_size=plan.meta.buffer_size)
    detect = detector_of(FaceDetection(FaceDetectionConfig(model="haar", min_size=60, threads=1)))
    report = label(frames, golden, asked, detect, segment_bytes=clip.stat().st_size)
    assert report.golden_objects > 0  # the golden model found the faces: the labels say something
    fb = world.segment(plan.meta)
    fb.labels = report
    feed(world.agent, [fb])
    world.run(3)
    pareto = world.agent.info()["pareto"]
    scores = {(c.knobs.resolution, c.knobs.fps): c.f1 for c in report.candidates}
    assert scores[("720p", 15.0)] == 1.0  # the golden configuration against itself
    assert scores[("360p", 15.0)] < 1.0  # 60 px faces at 360p: the cascade misses them
    # The faces move 6 px a frame: the detections a 5 fps camera carries over still match at IoU 0.5, so
    # 720p x 5 fps is as accurate as golden for a third of its bytes; 360p is cheapest, and finds nothing.
    assert scores[("720p", 5.0)] == 1.0
    assert [p["config"][:2] for p in pareto] == [["360p", 5.0], ["720p", 5.0]]
    assert pareto[0]["mbps"] < pareto[1]["mbps"] and world.agent.state == "steady"
    assert world.config() == ("720p", 5.0)  # 5 Mbit/s carries the most accurate


def test_an_offline_profile_of_a_real_clip(tmp_path: Path) -> None:
    """``python -m backend.awstream_profile`` on a real MP4 clip with no ground truth: the face-detection
    service's application (the template's: haar served, BlazeFace golden) labels two golden segments of
    the clip with the processor's labeller; the agent starts from that profile without profiling online."""
    clip = write_segment(tmp_path / "clip.mp4", [portrait(4 * (i % 20)) for i in range(60)], fps=15)
    params = {"ladders": {"resolution": ["360p", "720p"], "fps": [5.0, 15.0]}, "golden_frames": 8}
    out = tmp_path / "profile.json"
    argv = ["--clip", str(clip), "--service", "face-detection", "--out", str(out)]
    assert main([*argv, "--segments", "2", "--params", json.dumps(params)]) == 0
    reports = [LabelReport.model_validate(r) for r in json.loads(out.read_text())]
    assert len(reports) == 2 and all(r.golden_objects > 0 for r in reports)
    assert all(r.golden.model == "blazeface" and r.golden.resolution == "720p" and r.frames == 8 for r in reports)
    assert {(c.knobs.resolution, c.knobs.fps) for c in reports[0].candidates} == {
        ("360p", 5.0),
        ("360p", 15.0),
        ("720p", 5.0),
        ("720p", 15.0),
    }
    world = World({**params, "profile": str(out)}, mbps=5.0, monitor_mbps=5.0)
    plan = world.agent.decide(request())
    assert LABEL_KEY not in plan.meta.extra  # a profile is known: nothing to label before serving
    pareto = world.agent.info()["pareto"]
    assert pareto and [p["mbps"] for p in pareto] == sorted(p["mbps"] for p in pareto)
    assert world.agent.state == "steady" and list(world.agent.serving)[:2] == pareto[-1]["config"][:2]
    assert main([*argv[:2], "--service", "nope", "--out", str(out)]) == 2
