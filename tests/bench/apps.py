"""Application figures for ``make bench``: ms per frame at 360p/720p/1080p, accuracy on the synthetic set,
and processor memory. Each application is measured in its own process (``python -m tests.bench.apps
ALIAS DATASET``) so its peak RSS is its own. Fills ``results["apps"]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench import guard

APPS = ["text-detection", "text-recognition", "pedestrian-detection", "plate-detection", "face-detection"]
HEIGHTS = [360, 720, 1080]
SOURCE = (1920, 1080)
FRAMES = 8
ROUNDS = 3
THREADS = 2


def _dataset(root: Path) -> Path:
    from datasource.synthetic import SyntheticSpec, generate_dataset

    spec = SyntheticSpec(seed=11, width=SOURCE[0], height=SOURCE[1], fps=30, clips=1, frames_per_clip=40)
    generate_dataset(root / "bench", spec)
    return root / "bench"


def _frames(dataset: Path) -> tuple[list[Any], list[dict[str, Any]], list[int]]:
    import cv2

    picks = list(range(0, 40, 40 // FRAMES))[:FRAMES]
    lines = (dataset / "ground_truth.jsonl").read_text().splitlines()
    truth = [{"objects": json.loads(lines[i])["objects"]} for i in picks]
    cap = cv2.VideoCapture(str(dataset / "clips" / "clip_000.mp4"))
    frames = []
    for i in range(40):
        ok, frame = cap.read()
        if ok and i in picks:
            frames.append(frame)
    cap.release()
    return frames, truth, picks


def _score(
    alias: str, results: list[Any], truth: list[dict[str, Any]], picks: list[int], upstream: Any
) -> float | None:
    from common.accuracy import score_task
    from common.task import END, START, Payload, RawMeta, Stage, Task
    from services.processor.application import SegmentResult

    last = "stage"
    dag = {START: Stage(name=START, service=START, next=["up" if upstream else last], done=True)}
    if upstream is not None:
        dag["up"] = Stage(name="up", service="up", prev=[START], next=[last], done=True, result=upstream.model_dump())
    dag[last] = Stage(name=last, service=last, prev=["up" if upstream else START], next=[END], done=True)
    dag[last].result = SegmentResult(application=alias, frames=results).model_dump()
    dag[END] = Stage(name=END, service=END, prev=[last])
    task = Task(
        source_id="bench",
        task_id=0,
        source_node="bench",
        dag=dag,
        raw_meta=RawMeta(width=SOURCE[0], height=SOURCE[1]),
        payload=Payload(frame_indices=picks, ground_truth=truth),
    )
    scores = score_task(task)
    return None if scores is None else scores.get("accuracy")


def measure(alias: str, dataset: Path) -> dict[str, Any]:
    """Runs in the child process."""
    import resource

    import cv2

    import services.processor.application  # noqa: F401
    from common.registry import REGISTRY
    from services.processor.application import SegmentResult

    frames, truth, picks = _frames(dataset)
    app = REGISTRY.create("application", alias, {"threads": THREADS})
    app.load()
    detector = None
    if alias == "text-recognition":
        detector = REGISTRY.create("application", "text-detection", {"threads": THREADS})
        detector.load()
    out: dict[str, Any] = {"ms_per_frame": {}, "accuracy": {}}
    for height in HEIGHTS:
        width = round(height * 16 / 9 / 2) * 2
        scaled = [cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames]
        upstream = (
            SegmentResult(application="text-detection", frames=detector.process(scaled, None)) if detector else None
        )
        for _ in range(2):  # warm-up: new input shapes
            app.process(scaled, upstream)
        started = time.perf_counter()
        for _ in range(ROUNDS):
            results = app.process(scaled, upstream)
        ms = (time.perf_counter() - started) * 1000 / (ROUNDS * len(scaled))
        out["ms_per_frame"][f"{height}p"] = round(ms, 2)
        accuracy = _score(alias, results, truth, picks, upstream)
        out["accuracy"][f"{height}p"] = None if accuracy is None else round(accuracy, 3)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["threads"] = THREADS
    return out


def run(results: dict[str, Any]) -> None:
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="dayu-bench-apps-") as tmp:
        started = time.perf_counter()
        dataset = _dataset(Path(tmp))
        figures["_dataset"] = {
            "source": f"{SOURCE[0]}x{SOURCE[1]}",
            "frames": FRAMES,
            "seconds": round(time.perf_counter() - started, 1),
        }
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        for alias in APPS:
            try:
                done = guard.run([sys.executable, "-m", "tests.bench.apps", alias, str(dataset)], timeout=600, env=env)
            except subprocess.TimeoutExpired:
                figures[alias] = {"error": "timed out after 600 s"}
                continue
            if done.returncode != 0:
                figures[alias] = {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
                continue
            figures[alias] = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"apps: {alias}: {figures[alias]}", file=sys.stderr)
    figures["_notes"] = (
        "CPU only (onnxruntime, OpenCV); ms per frame over a segment of 8 frames after warm-up; accuracy = F1 at "
        "IoU 0.5 (text-recognition: exact text match) against the synthetic ground truth; the tensorrt runtime and "
        "yolo-onnx (no real YOLO export is shipped) are not measured here"
    )
    results["apps"] = figures


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], Path(sys.argv[2]))))
