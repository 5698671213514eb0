"""The golden labeller: accuracy of candidate configurations against the golden one, on the same frames.

Given a segment made at the golden configuration (the richest knobs), each candidate is derived from it
by the generator's own code (:func:`common.derive.derive_segments`: the frames its fps keeps, scaled to its
resolution, encoded with its codec and quality in segments of its ``buffer_size`` frames, through the
calls the generator's ``fps`` filter, ``resize`` process and encoders make), and decoded again. The stage's
application runs the candidate's model on those frames; the golden model's detections on the golden frames
are the labels. A frame the candidate's fps skips carries the detections of the last frame it processed, as
a deployed camera would show them (frames before its first processed one carry that first one's: the
stream's previous frame is outside the segment).

F1 is pooled over the segment's frames: greedy one-to-one matching at IoU 0.5 within each class, boxes
compared in golden-frame pixels. Each candidate also reports the bytes it would have sent and its model
time; the labeller's own CPU time is reported so that it can be charged as profiling cost.
"""

from __future__ import annotations

import math
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from common.accuracy import IOU_THRESHOLD, f1_score, match_boxes
from common.derive import derive_segments
from common.errors import InvalidInput
from common.golden import CandidateScore, Knobs, LabelReport
from common.results import Detection, FrameResult
from services.processor.application import Application
from services.processor.decode import decode_segment

Detect = Callable[[str | None, list[np.ndarray]], list[FrameResult]]


def same_frames(a: Knobs, b: Knobs) -> bool:
    """The two configurations make the same pixels (they may differ in model and segment length)."""
    return (a.resolution, a.fps, a.encoding.lower(), a.qp) == (b.resolution, b.fps, b.encoding.lower(), b.qp)


def derive(
    frames: Sequence[np.ndarray], golden_fps: float, knobs: Knobs, work: Path, *, as_golden: bool = False
) -> tuple[list[int], list[np.ndarray], int]:
    """(kept frame indices, the decoded frames the candidate's model would see, bytes sent).

    ``as_golden``: the candidate makes the golden segment's pixels, so its model sees the golden frames
    themselves (encoding them again would add a generation loss the real segment does not have); it is
    still encoded, for the bytes its segment length would send."""
    kept: list[int] = []
    decoded: list[np.ndarray] = []
    sent = 0
    for segment in derive_segments(frames, golden_fps, knobs, work):
        kept.extend(segment.indices)
        sent += segment.bytes
        if not as_golden:
            decoded.extend(decode_segment(segment.path, max_frames=len(segment.indices)))
        segment.path.unlink()
    if as_golden:
        decoded = [frames[i] for i in kept]
    return kept, decoded, sent


def carried(kept: Sequence[int], results: Sequence[list[Detection]], frames: int) -> list[list[Detection]]:
    """Per frame of the segment, the detections on show: the last processed frame's (the first one's before it)."""
    shown: list[list[Detection]] = []
    at = 0
    for i in range(frames):
        while at + 1 < len(kept) and kept[at + 1] <= i:
            at += 1
        shown.append(list(results[at]) if results else [])
    return shown


def score(
    predicted: Sequence[Sequence[Detection]], golden: Sequence[Sequence[Detection]]
) -> tuple[float, float, float]:
    """(F1, precision, recall) pooled over frames, matching within each class at IoU 0.5."""
    tp = fp = fn = 0
    for preds, labels in zip(predicted, golden, strict=True):
        by_class: dict[str, tuple[list[Detection], list[Detection]]] = defaultdict(lambda: ([], []))
        for d in preds:
            by_class[d.label][0].append(d)
        for d in labels:
            by_class[d.label][1].append(d)
        for p, g in by_class.values():
            hits = len(match_boxes([d.box for d in p], [d.box for d in g], IOU_THRESHOLD))
            tp, fp, fn = tp + hits, fp + len(p) - hits, fn + len(g) - hits
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return f1_score(tp, fp, fn), precision, recall


def _scaled(result: FrameResult, fx: float, fy: float) -> list[Detection]:
    return [
        d.model_copy(update={"box": (d.box[0] * fx, d.box[1] * fy, d.box[2] * fx, d.box[3] * fy)})
        for d in result.objects
    ]


def shown_by(
    frames: list[np.ndarray], golden: Knobs, knobs: Knobs, detect: Detect, work: Path
) -> tuple[list[list[Detection]], list[int], int, float]:
    """What a camera at ``knobs`` shows on each frame of the golden segment, in golden-frame pixels;
    with the frames it processed, the bytes it sent and its model seconds."""
    height, width = frames[0].shape[:2]
    kept, seen, sent = derive(frames, golden.fps, knobs, work, as_golden=same_frames(knobs, golden))
    started = time.perf_counter()
    results = detect(knobs.model, seen) if seen else []
    model_s = time.perf_counter() - started
    back = [_scaled(r, width / f.shape[1], height / f.shape[0]) for r, f in zip(results, seen, strict=True)]
    return carried(kept, back, len(frames)), kept, sent, model_s


def label(
    frames: list[np.ndarray],
    golden: Knobs,
    candidates: Sequence[Knobs],
    detect: Detect,
    *,
    segment_bytes: int = 0,
    golden_results: list[FrameResult] | None = None,
) -> LabelReport:
    """Score every candidate against the golden model on the golden segment's ``frames``.

    ``golden_results``: the golden model's results on these frames when the caller has them already (the
    processor's own pass over a profiling segment), so the model does not run twice."""
    if not frames:
        raise InvalidInput("the golden segment holds no frame")
    cpu0 = time.thread_time()
    started = time.perf_counter()
    if golden_results is None or len(golden_results) != len(frames):
        golden_results = detect(golden.model, frames)
    golden_s = time.perf_counter() - started
    labels = [list(r.objects) for r in golden_results]
    scores = []
    with tempfile.TemporaryDirectory(prefix="dayu-label-") as tmp:
        for knobs in candidates:
            shown, kept, sent, model_s = shown_by(frames, golden, knobs, detect, Path(tmp))
            f1, precision, recall = score(shown, labels)
            scores.append(
                CandidateScore(
                    knobs=knobs,
                    f1=round(f1, 6),
                    precision=round(precision, 6),
                    recall=round(recall, 6),
                    frames_processed=len(kept),
                    bytes=sent,
                    model_s=round(model_s, 6),
                )
            )
    return LabelReport(
        golden=golden,
        frames=len(frames),
        golden_objects=sum(len(f) for f in labels),
        golden_model_s=round(golden_s, 6),
        candidates=scores,
        cpu_s=round(time.thread_time() - cpu0, 6),
        segment_bytes=segment_bytes,
    )


def detector_of(application: Application) -> Detect:
    """The application's model as the labeller calls it (model name, frames) -> results."""

    def detect(model: str | None, frames: list[np.ndarray]) -> list[FrameResult]:
        if model is not None and application.models and model not in application.models:
            raise InvalidInput(f"{application.alias} has no model {model!r}; models: {', '.join(application.models)}")
        return application.process_with(model, frames, None)

    return detect


class LabelGate:
    """Admits at most one labelling per ``period`` seconds of ``clock`` (bounds the labeller's CPU)."""

    def __init__(self, period: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.period = period
        self.clock = clock
        self._last = -math.inf
        self._lock = threading.Lock()
        self.served = 0
        self.refused = 0
        self.cpu_s = 0.0
        self.bytes = 0

    def wait_s(self) -> float:
        """Seconds until the next labelling is admitted (0: now); admits it when 0."""
        with self._lock:
            now = self.clock()
            wait = self._last + self.period - now
            if wait > 0:
                self.refused += 1
                return wait
            self._last = now
            return 0.0

    def record(self, report: LabelReport) -> None:
        with self._lock:
            self.served += 1
            self.cpu_s += report.cpu_s
            self.bytes += report.segment_bytes

    def info(self) -> dict[str, float | int]:
        return {
            "period_s": self.period,
            "served": self.served,
            "refused": self.refused,
            "cpu_s": round(self.cpu_s, 6),
            "bytes": self.bytes,
        }
