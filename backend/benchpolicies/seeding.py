"""What a repeat's seed changes: where in the clip the source starts and where in the trace the link starts.

Both are drawn from the seed alone (``random.Random`` with a string seed is the same on every machine and
Python build), so a repeat is reproduced by its seed. The clip is rotated into a copy: its frames from
``offset`` on, then the frames before it (ground truth rotates with them). The trace is rotated in time:
the row in force at ``phase`` seconds comes first, the rows before ``phase`` follow the last one.
"""

from __future__ import annotations

import csv
import io
import json
import random
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np

from common.errors import ConfigError
from common.trace import Trace, TracePoint, load_trace

T = TypeVar("T")


def start_offset(seed: int, frames: int) -> int:
    """The clip frame a repeat with ``seed`` starts at (0 .. frames - 1)."""
    if frames < 1:
        raise ConfigError(f"a clip needs at least one frame, got {frames}")
    return random.Random(f"clip-offset-{seed}").randrange(frames)


def trace_phase(seed: int, period_s: float) -> float:
    """Seconds into one pass of the trace at which a repeat with ``seed`` starts (whole seconds: traces
    are binned by the second; 0 for a constant trace)."""
    whole = int(period_s)
    return float(random.Random(f"trace-phase-{seed}").randrange(whole)) if whole >= 1 else 0.0


def rotated_points(trace: Trace, phase: float) -> list[TracePoint]:
    """The trace's rows from ``phase`` on (the row in force at ``phase`` first, at 0), then those before it;
    the last row closes the pass at the trace's period and keeps its value (``hold``)."""
    period = trace.period_s
    if phase <= 0 or period <= 0:
        return list(trace.points)
    if phase >= period:
        raise ConfigError(f"a trace phase must lie in [0, {period:g}) s, got {phase:g}")
    body = trace.points[:-1]  # one pass: the closing row marks its end
    at = trace.point_at(phase)
    later = [TracePoint(p.t_s - phase, p.mbit_per_s, p.delay_ms) for p in body if p.t_s > phase]
    earlier = [TracePoint(p.t_s + period - phase, p.mbit_per_s, p.delay_ms) for p in body if p.t_s < phase]
    first = TracePoint(0.0, at.mbit_per_s, at.delay_ms)
    closing = earlier[-1] if earlier else first
    return [first, *later, *earlier, TracePoint(period, closing.mbit_per_s, closing.delay_ms)]


def phased_trace(ref: str, phase: float, out_dir: Path) -> str:
    """``ref`` started ``phase`` seconds in, as a CSV under ``out_dir`` (``ref`` itself when the phase is 0)."""
    if phase <= 0:
        return ref
    trace = load_trace(ref, mode="hold")
    points = rotated_points(trace, phase)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    with_delay = any(p.delay_ms is not None for p in points)
    writer.writerow(["t_s", "mbit_per_s", "delay_ms"] if with_delay else ["t_s", "mbit_per_s"])
    for p in points:
        row: list[Any] = [f"{p.t_s:g}", f"{p.mbit_per_s:g}"]
        if with_delay:
            row.append("" if p.delay_ms is None else f"{p.delay_ms:g}")
        writer.writerow(row)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{trace.name}-from{phase:g}s.csv"
    path.write_text(buffer.getvalue())
    return str(path.resolve())


ROTATED_CRF = 12
"""x264 quality of a rotated copy: visually lossless, and cheap to decode on a weak edge (a lossless codec,
FFV1, took 30 ms of CPU per 720p frame to decode, most of a 0.5-core edge at 30 fps; this takes a few)."""


def rotated_clip(clip: Path, offset: int, frames: int, fps: float, out_dir: Path, tag: str) -> Path:
    """``clip`` from frame ``offset`` on, then its first ``offset`` frames (H.264, ``ROTATED_CRF``);
    ``clip`` itself at offset 0. Made once per (clip content ``tag``, offset). The copy is encoded again, so
    its golden reference is computed on the copy itself (the cache keys it by the copy's content)."""
    if offset == 0:
        return clip
    target = out_dir / f"{tag}-from{offset}.mp4"
    if target.is_file():
        return target
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial.mp4")
    capture = cv2.VideoCapture(str(clip))
    if not capture.isOpened():
        raise ConfigError(f"cannot open the clip {clip}")
    head = []  # the frames before the offset, written last (at most one clip's worth, only while rotating)
    try:
        with _Encoder(partial, fps) as encoder:
            for index in range(frames):
                ok, frame = capture.read()
                if not ok:
                    raise ConfigError(f"the clip {clip} ends at frame {index}, before the {frames} it announced")
                if index < offset:
                    head.append(frame)
                else:
                    encoder.write(frame)
            for frame in head:
                encoder.write(frame)
    finally:
        capture.release()
    partial.replace(target)
    return target


class _Encoder:
    """Frames to an H.264 MP4 file (PyAV), opened on the first frame (its size)."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self.fps = fps
        self.container: Any = None
        self.stream: Any = None

    def __enter__(self) -> _Encoder:
        return self

    def write(self, frame: np.ndarray) -> None:
        import av  # PyAV: only where a clip is rotated

        if self.container is None:
            self.container = av.open(str(self.path), mode="w", format="mp4")
            rate = Fraction(self.fps).limit_denominator(1001)
            self.stream = self.container.add_stream("libx264", rate=rate, options={"crf": str(ROTATED_CRF)})
            self.stream.height, self.stream.width = frame.shape[:2]
            self.stream.pix_fmt = "yuv420p"
        for packet in self.stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
            self.container.mux(packet)

    def __exit__(self, *exc: object) -> None:
        if self.container is None:
            return
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()


def rotated(entries: list[T], offset: int) -> list[T]:
    """Per-frame entries of a clip rotated by ``offset`` (the entry of the copy's frame i is the original's
    frame (i + offset) mod n)."""
    return entries[offset:] + entries[:offset]


def rotated_truth(truth: Path, offset: int, out_dir: Path) -> Path:
    """The per-frame truth list of a clip rotated by ``offset`` (``truth`` itself at 0)."""
    if offset == 0:
        return truth
    entries = json.loads(truth.read_text())
    target = out_dir / f"{truth.parent.name}-truth-from{offset}.json"
    out_dir.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(rotated(entries, offset)))
    return target
