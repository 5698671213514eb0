"""A service's application run in this process, on a video, outside a running processor.

The control plane's tools run it as a process (they import no runtime component), one request each
(:mod:`common.contracts.offline`):

- ``profile``: the model time per frame at each resolution (median of the runs, after warm-up) and the
  resident memory the loaded model added (``dayuctl profile``);
- ``golden``: the golden model's detections on every frame of a clip at the clip's own size, in ground
  truth's shape (the policy benchmark's golden reference);
- ``label``: the golden labeller's reports (:func:`services.processor.labeller.label`) on golden segments
  spread over a clip, made as the generator would make them (awstream's offline profile).

``python -m services.processor.offline profile|golden|label --request FILE --out FILE``: the request and the
reply are JSON files; a refused request exits 2 with the reason on stderr.
"""

from __future__ import annotations

import gc
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import psutil

from common.contracts.offline import (
    GoldenReply,
    GoldenRequest,
    LabelReply,
    LabelRequest,
    OfflineRequest,
    ProfileReply,
    ProfileRequest,
)
from common.derive import fps_ratio, keeps, scale
from common.errors import ConfigError, InvalidInput
from common.golden import MAX_CANDIDATES, Knobs
from common.offline_tool import OfflineCommand, run_offline_tool
from common.registry import REGISTRY
from services.processor.application import FAMILY, Application
from services.processor.labeller import derive, detector_of, label

HEIGHTS = {"360p": 360, "480p": 480, "540p": 540, "720p": 720, "1080p": 1080}


def loaded(request: OfflineRequest) -> Application:
    """The request's application, created and with its model loaded."""
    application = request.application
    if "alias" not in application:
        raise ConfigError("the application names no alias")
    app: Application = REGISTRY.create(FAMILY, str(application["alias"]), application.get("params") or {})
    app.load()
    return app


def clip_frames(path: Path) -> Iterator[np.ndarray]:
    """Every frame of the video, as it plays."""
    capture = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield frame
    finally:
        capture.release()


def read_frames(video: Path, count: int) -> list[np.ndarray]:
    frames = [frame for frame, _ in zip(clip_frames(video), range(count), strict=False)]
    if not frames:
        raise ConfigError(f"cannot read frames from {video}")
    return frames


def resize(frame: np.ndarray, resolution: str) -> np.ndarray:
    height = HEIGHTS[resolution]
    h, w = frame.shape[:2]
    width = round(w * height / h) // 2 * 2
    return np.asarray(cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA))


def measure(app: Application, frames: list[np.ndarray], resolution: str, runs: int) -> float:
    sized = [resize(f, resolution) for f in frames]
    app.warmup(sized[0].shape[1], sized[0].shape[0])
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        app.process(sized, None)
        times.append((time.perf_counter() - started) * 1000.0 / len(sized))
    return statistics.median(times)


def profile(request: ProfileRequest) -> ProfileReply:
    unknown = [r for r in request.resolutions if r not in HEIGHTS]
    if unknown:
        raise InvalidInput(f"unknown resolutions {unknown}; known: {', '.join(HEIGHTS)}")
    images = read_frames(Path(request.video), request.frames)
    process = psutil.Process()
    gc.collect()
    before = process.memory_info().rss
    app = loaded(request)
    memory_mb = max(0.0, (process.memory_info().rss - before) / 2**20)
    ms = {resolution: measure(app, images, resolution, request.runs) for resolution in request.resolutions}
    return ProfileReply(frames=len(images), memory_mb=memory_mb, ms_per_frame=ms)


def golden(request: GoldenRequest) -> GoldenReply:
    detect = detector_of(loaded(request))
    entries: list[dict[str, Any]] = []
    batch: list[np.ndarray] = []

    def flush() -> None:
        for result in detect(request.model, batch):
            objects = [{"class": d.label, "box": [round(float(v), 2) for v in d.box]} for d in result.objects]
            entries.append({"objects": objects})
        batch.clear()

    for frame in clip_frames(Path(request.clip)):
        batch.append(frame)
        if len(batch) == request.batch:
            flush()
    if batch:
        flush()
    return GoldenReply(entries=entries)


def golden_segments(clip: Path, golden: Knobs, count: int) -> list[list[np.ndarray]]:
    """Up to ``count`` golden segments spread over the clip: each ``golden.buffer_size`` frames that the
    golden fps keeps, at the golden resolution (read as the clip plays, so memory stays one segment's)."""
    capture = cv2.VideoCapture(str(clip))
    if not capture.isOpened():
        raise ConfigError(f"cannot open the clip {clip}")
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS)) or 30.0
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        ratio = fps_ratio(fps, golden.fps)
        span = math.ceil(golden.buffer_size / ratio)  # source frames one golden segment covers
        gap = max(span, total // count) if total > 0 else span  # source frames between segment starts
        segments: list[list[np.ndarray]] = []
        current: list[np.ndarray] = []
        index = 0
        while len(segments) < count:
            ok, frame = capture.read()
            if not ok:
                break
            position = index % gap
            index += 1
            if position >= span or not keeps(position, ratio):
                continue
            current.append(scale(frame, golden.resolution))
            if len(current) == golden.buffer_size or position == span - 1:
                segments.append(current)
                current = []
    finally:
        capture.release()
    if not segments:
        raise ConfigError(f"the clip {clip} holds no readable frame")
    return segments


def label_clip(request: LabelRequest) -> LabelReply:
    detect = detector_of(loaded(request))
    gold, candidates = request.golden, request.candidates
    reports = []
    with tempfile.TemporaryDirectory(prefix="dayu-awstream-") as tmp:
        for chunk in golden_segments(Path(request.clip), gold, request.segments):
            # The golden segment as the generator sends it and the processor decodes it.
            _, sent_frames, sent = derive(chunk, gold.fps, gold.model_copy(update={"model": None}), Path(tmp))
            for start in range(0, len(candidates), MAX_CANDIDATES):
                batch = candidates[start : start + MAX_CANDIDATES]
                reports.append(label(sent_frames, gold, batch, detect, segment_bytes=sent))
    return LabelReply(reports=reports)


COMMANDS: dict[str, OfflineCommand] = {
    "profile": (ProfileRequest, profile),
    "golden": (GoldenRequest, golden),
    "label": (LabelRequest, label_clip),
}


def main(argv: Sequence[str] | None = None) -> int:
    return run_offline_tool("python -m services.processor.offline", __doc__.split("\n")[0], COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
