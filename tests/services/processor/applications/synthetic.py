"""Frames and ground truth from the synthetic generator, and scoring helpers for application tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from common.accuracy import score_task
from common.registry import REGISTRY
from common.results import FrameResult, SegmentResult
from common.task import END, START, Payload, RawMeta, Stage, Task
from datasource.synthetic import SyntheticSpec, generate_dataset
from services.processor.application import FAMILY

SPEC = SyntheticSpec(seed=11, width=1280, height=720, fps=30, clips=1, frames_per_clip=40)
PICK = list(range(0, 40, 5))


@dataclass
class Clip:
    frames: list[np.ndarray]
    truth: list[dict[str, Any]]
    indices: list[int]

    def at(self, height: int) -> list[np.ndarray]:
        width = round(height * 16 / 9 / 2) * 2
        return [cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in self.frames]


def make_clip(root: Path) -> Clip:
    out = generate_dataset(root / "synthetic", SPEC)
    assert out.total_frames == 40
    lines = (root / "synthetic" / "ground_truth.jsonl").read_text().splitlines()
    truth = [json.loads(line) for line in lines]
    cap = cv2.VideoCapture(str(root / "synthetic" / "clips" / out.clips[0].file))
    frames = []
    for _ in range(40):
        ok, frame = cap.read()
        assert ok
        frames.append(frame)
    cap.release()
    return Clip([frames[i] for i in PICK], [{"objects": truth[i]["objects"]} for i in PICK], PICK)


def scored(
    clip: Clip, alias: str, results: list[FrameResult], upstream: SegmentResult | None = None
) -> dict[str, float]:
    """Scores of one stage's results through common.accuracy.score_task, as the distributor computes them."""
    stages = ["detect", "read"] if upstream is not None else ["detect"]
    dag = {START: Stage(name=START, service=START, next=[stages[0]], done=True)}
    for n, name in enumerate(stages):
        dag[name] = Stage(
            name=name,
            service=name,
            prev=[START] if n == 0 else [stages[n - 1]],
            next=[stages[n + 1]] if n + 1 < len(stages) else [END],
            done=True,
        )
    dag[END] = Stage(name=END, service=END, prev=[stages[-1]])
    if upstream is not None:
        dag["detect"].result = upstream
    app = REGISTRY.get(FAMILY, alias)
    dag[stages[-1]].result = SegmentResult(
        application=alias, classes=list(app.classes), reads_text=app.reads_text, frames=results
    )
    task = Task(
        source_id="cam",
        task_id=0,
        source_node="edge1",
        dag=dag,
        raw_meta=RawMeta(width=SPEC.width, height=SPEC.height, fps=SPEC.fps),
        payload=Payload(frame_indices=clip.indices, ground_truth=clip.truth),
    )
    scores = score_task(task)
    assert scores is not None
    return {k.split(".", 1)[-1]: v for k, v in scores.items()}
