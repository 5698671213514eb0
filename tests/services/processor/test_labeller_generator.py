"""The golden labeller derives a candidate with the generator's own code: for the same source frames, the
segments the real generator makes at a configuration and the candidate the labeller derives at it are the
same files, byte for byte.

Real parts throughout: a video written here; the real generator app (file source, ``fps`` filter, ``resize``
process, the ``opencv`` and ``x264`` encoders in its encoder thread) submitting to a small real FastAPI app
on loopback that stands in for its controller and scheduler (it records the tasks and answers the plan);
the real processor app on loopback answering ``POST /label`` with the Haar cascade. The golden segment is
the generator's source file itself, so the generator reads exactly the frames the processor decodes from
it (both with OpenCV), and any difference left would be a difference in how the two make segments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from common.derive import derive_segments
from common.golden import Knobs
from common.task import Task
from services.generator.app import create_app as generator_app
from services.generator.config import GeneratorConfig, GeneratorSettings
from services.processor.app import create_app as processor_app
from services.processor.config import ProcessorConfig
from services.processor.decode import decode_segment
from services.processor.labeller import derive
from services.processor.settings import ProcessorSettings
from tests import loopback
from tests.e2e.cluster import wait_until, write_video
from tests.servers import free_port, serve

pytestmark = pytest.mark.integration

FRAMES = 12
GOLDEN = Knobs(resolution="360p", fps=10, encoding="mp4v", buffer_size=FRAMES)
"""The source video's own knobs: 640x360 at 10 fps, all its frames in one segment."""
CANDIDATES = [
    Knobs(resolution="240p", fps=5, encoding="h264", qp=30, buffer_size=2),
    Knobs(resolution="360p", fps=10, encoding="mp4v", buffer_size=5),  # 5 + 5 + a short segment of 2
    Knobs(resolution="144p", fps=2.5, encoding="h264", buffer_size=4),  # x264's crf; 3 frames kept, one segment
    Knobs(resolution="240p", fps=15, encoding="mp4v", buffer_size=4),  # above the source's rate: every frame
]


def controller_and_scheduler(store: list[dict[str, Any]], meta: dict[str, Any]) -> FastAPI:
    app = FastAPI()

    @app.post("/tasks", status_code=202)
    async def tasks(request: Request) -> dict[str, str]:
        store.append(json.loads(await request.body()))
        return {"accepted": "yes"}

    @app.post("/plan")
    async def plan() -> dict[str, Any]:
        return {"plan": {"meta": meta, "offload": {"face": "edge1"}}, "deployment_version": 1}

    return app


def generated(work: Path, video: Path, knobs: Knobs) -> list[tuple[list[int], bytes]]:
    """(source frame indices, file bytes) of every segment the real generator makes of ``video`` at ``knobs``."""
    store: list[dict[str, Any]] = []
    meta = knobs.model_dump(exclude={"model"})
    port = free_port()
    topology = {
        "nodes": {
            "cloud": {"role": "cloud", "components": {"scheduler": {"port": port}, "distributor": {"port": port}}},
            "edge1": {"role": "edge", "components": {"controller": {"port": port}}},
        }
    }
    config = GeneratorConfig.model_validate(
        {
            "source_id": "cam",
            "source": {"alias": "file", "params": {"path": str(video)}},
            "startup_plan": meta,
            "schedule_interval": 3600,
            "plan_timeout_s": 60,
            "realtime": False,
        }
    )
    settings = GeneratorSettings(node="edge1", topology=json.dumps(topology), work_dir=work)
    with serve(controller_and_scheduler(store, meta), port), TestClient(generator_app(settings, config)) as client:
        status = wait_until(
            lambda: (lambda s: s if s["finished"] else None)(client.get("/status").json()), timeout=120, what="the end"
        )
    assert status["state"] == "finished" and status["tasks_dropped"] == 0, status
    assert status["plans_received"] == 1  # made under the plan (which is also the startup plan)
    tasks = sorted((Task.from_dict(t) for t in store), key=lambda t: t.task_id)
    assert len(tasks) == status["tasks_submitted"]
    return [(t.payload.frame_indices, (work / (t.payload.file_name or "")).read_bytes()) for t in tasks]


def test_the_labellers_candidates_are_the_generators_segments(tmp_path: Path) -> None:
    video = write_video(tmp_path / "golden.mp4", frames=FRAMES, fps=GOLDEN.fps, size=(640, 360))
    made = {i: generated(tmp_path / f"generator-{i}", video, knobs) for i, knobs in enumerate(CANDIDATES)}

    # The processor's POST /label on the same file: what each candidate would send and how many frames it keeps.
    config = ProcessorConfig.model_validate(
        {"application": {"alias": "face-detection"}, "labeller": {"enabled": True, "nodes": ["cloud"]}}
    )
    body = {
        "file_name": video.name,
        "golden": GOLDEN.model_dump(),
        "candidates": [k.model_dump() for k in CANDIDATES],
    }
    with serve(processor_app(ProcessorSettings(work_dir=tmp_path, node="cloud"), config)) as url:
        answer = loopback.post(f"{url}/label", json=body, timeout=300)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["frames"] == FRAMES and report["golden_objects"] > 0
    for i, score in enumerate(report["candidates"]):
        segments = made[i]
        assert score["bytes"] == sum(len(data) for _, data in segments), CANDIDATES[i]
        assert score["frames_processed"] == sum(len(indices) for indices, _ in segments), CANDIDATES[i]

    # The files themselves, from the function the labeller derives with, on the frames /label decoded.
    frames = decode_segment(video, max_frames=1000)
    assert len(frames) == FRAMES
    for i, knobs in enumerate(CANDIDATES):
        work = tmp_path / f"derived-{i}"
        work.mkdir()
        derived = [(s.indices, s.path.read_bytes()) for s in derive_segments(frames, GOLDEN.fps, knobs, work)]
        assert [indices for indices, _ in derived] == [indices for indices, _ in made[i]], knobs
        for (_, ours), (_, theirs) in zip(derived, made[i], strict=True):
            assert ours == theirs, f"{knobs}: {len(ours)} bytes derived, {len(theirs)} made by the generator"
    # The labeller's model sees what a processor decodes from the generator's segments, frame for frame.
    h264 = CANDIDATES[0]
    kept, seen, sent = derive(frames, GOLDEN.fps, h264, tmp_path / "derived-0")
    decoded: list[np.ndarray] = []
    for n, (_, data) in enumerate(made[0]):
        path = tmp_path / f"sent-{n}.mp4"
        path.write_bytes(data)
        decoded.extend(decode_segment(path, max_frames=1000))
    assert kept == [i for indices, _ in made[0] for i in indices] and sent == sum(len(d) for _, d in made[0])
    assert len(seen) == len(decoded) == len(kept) and all(
        np.array_equal(a, b) for a, b in zip(seen, decoded, strict=True)
    )
    assert seen[0].shape[:2] == (240, 426)
