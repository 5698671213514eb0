"""``dayuctl profile``: measure each service's model time per frame at each resolution, into a profile table.

Each service's application (as its processor template configures it) is loaded in this process and run on
frames of a video (the synthetic clip by default) resized to each resolution: the median over the runs,
after warm-up, is the table's ms per frame; the resident memory the loaded model added is its memory.
The local runtime's virtual nodes share this machine, so every node gets the figures measured here; on a
real cluster run it on each kind of node and merge the tables.
"""

from __future__ import annotations

import gc
import platform
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import psutil

from backend.templates import load_template
from common.errors import ConfigError
from common.registry import REGISTRY
from services.processor.application import FAMILY as APPLICATION
from services.processor.application import Application
from services.scheduler.profile_table import ProfileRow, ProfileTable, save_table

HEIGHTS = {"360p": 360, "480p": 480, "540p": 540, "720p": 720, "1080p": 1080}


def read_frames(video: Path, count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(video))
    frames: list[np.ndarray] = []
    try:
        while len(frames) < count:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        capture.release()
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


def profile(
    template_dir: str | Path,
    video: Path,
    *,
    services: Sequence[str] | None = None,
    resolutions: Sequence[str] = ("360p", "480p", "540p", "720p"),
    frames: int = 4,
    runs: int = 3,
) -> ProfileTable:
    template = load_template(template_dir)
    wanted = list(services or template.services)
    nodes = list(template.base.local.nodes)
    images = read_frames(video, frames)
    rows = []
    process = psutil.Process()
    for service in wanted:
        spec = template.services.get(service)
        if spec is None:
            raise ConfigError(f"unknown service {service!r}; known: {', '.join(sorted(template.services))}")
        application = template.component(spec.template).config.get("application") or {}
        if spec.input != "frame":
            continue  # it needs an upstream stage's output: profiled as part of its pipeline only
        gc.collect()
        before = process.memory_info().rss
        app: Application = REGISTRY.create(APPLICATION, application["alias"], application.get("params") or {})
        app.load()
        memory_mb = max(0.0, (process.memory_info().rss - before) / 2**20)
        for resolution in resolutions:
            ms = measure(app, images, resolution, runs)
            rows += [
                ProfileRow(service=service, node=node, resolution=resolution, ms_per_frame=ms, memory_mb=memory_mb)
                for node in nodes
            ]
    return ProfileTable(
        measured_at=time.time(),
        host=platform.node(),
        note=f"median of {runs} runs over {len(images)} frames of {video.name}, in one process; nodes share this host",
        rows=rows,
    )


def cmd_profile(args: object) -> None:
    """``dayuctl profile``: measure and write the table (no backend needed)."""
    from backend.benchpolicies.workload import prepare_clip

    template = str(getattr(args, "template", "template"))
    out = Path(str(getattr(args, "out", ".dayu/profiles/latency.json")))
    video = getattr(args, "video", None)
    clip = Path(video) if video else prepare_clip(out.parent / "workload", 7)[0]
    services = [s for s in str(getattr(args, "services", "") or "").split(",") if s] or None
    table = profile(template, clip, services=services)
    save_table(table, out)
    for row in table.rows:
        print(f"{row.service:22s} {row.node:8s} {row.resolution:6s} {row.ms_per_frame:8.2f} ms/frame")
    print(f"wrote {out}")
