"""The state both learning agents see, built from the per-source feedback history; and their rewards.

A window of the last ``WINDOW`` tasks, one row each: whether the row holds a task, whether the segment
crossed a link (then the bandwidth it measured: segment bits over that stage's transmit time), delay over
the SLO, segment size, objects per frame, object velocity, and whether the task was dropped (a skipped
segment); then the current knob positions (0-1).

Every figure is scaled to about 0-1 and clipped, bandwidth and bytes on a log scale: links range from a
few hundred kbit/s to a LAN, segments from a few kB to a MB, and a linear scale would leave the slow end
(where the decisions matter) squeezed next to zero and the fast end saturated.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from common.feedback import DropFeedback, TaskFeedback
from common.golden import LABEL_KEY
from common.task import Meta

WINDOW = 8
PER_TASK = 8
DEFAULT_VELOCITY = 0.1
"""Frame diagonals per second assumed when the processors report no object velocity."""
LATE_CAP = 6.0
"""Delay over the SLO beyond which a late task costs no more (the queues drop segments about there)."""
DRIFT = 0.05
"""Object motion (frame diagonals) at which a result reused for later frames has lost ~63% of its worth."""


def bandwidth_mbps(fb: TaskFeedback) -> float | None:
    """Bits of the segment over the longest transmit of a stage (the one that crossed the link).

    A stage's transmit runs from the segment being ready to send to its arrival, the wait behind earlier
    segments in the link's queue included: live, the controller's shaper hold-back plus the transfer; in
    the simulator, the same. So the figure is the throughput this segment got, and a backlog reads as a
    slower link in training as it does live."""
    transmit = max((s.transmit or 0.0 for s in fb.stages), default=0.0)
    if not fb.segment_bytes or transmit <= 0.005:
        return None
    return fb.segment_bytes * 8 / transmit / 1e6


def _clip(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def task_row(item: TaskFeedback | DropFeedback, slo_s: float) -> list[float]:
    size = item.segment_bytes or 0
    size_feature = _clip(math.log10(max(size, 1_000) / 1_000) / 3, 0.0, 1.5)  # 1 kB: 0, 1 MB: 1
    if isinstance(item, DropFeedback):
        return [1.0, 0.0, 0.0, 2.0, size_feature, 0.0, 0.0, 1.0]
    bw = bandwidth_mbps(item)
    bw_feature = _clip((math.log10(bw) + 1) / 3, 0.0, 1.0) if bw else 0.0  # 0.1 Mbit/s: 0, 100 Mbit/s: 1
    velocity = item.content.obj_velocity
    return [
        1.0,
        1.0 if bw else 0.0,
        bw_feature,
        _clip(item.delay / slo_s, 0.0, 4.0) / 2,
        size_feature,
        _clip((item.content.obj_num or 0.0) / 10.0, 0.0, 2.0),
        _clip((DEFAULT_VELOCITY if velocity is None else velocity) / 0.3, 0.0, 2.0),
        0.0,
    ]


def state_vector(items: list[TaskFeedback | DropFeedback], knobs: list[float], slo_s: float) -> np.ndarray:
    """``WINDOW`` x ``PER_TASK`` figures (zeros where fewer tasks arrived), then the knob positions (0-1)."""
    rows = [task_row(i, slo_s) for i in items[-WINDOW:]]
    rows = [[0.0] * PER_TASK] * (WINDOW - len(rows)) + rows
    return np.asarray([v for row in rows for v in row] + list(knobs), dtype=np.float32)


def state_dim(knobs: int) -> int:
    return WINDOW * PER_TASK + knobs


def freshness(fps: float, velocity: float | None) -> float:
    """Share of a frame's accuracy a stream keeps when only ``fps`` frames a second are analysed.

    A result stands for the frames up to the next analysed one while the objects move on: its worth decays
    as exp(-motion / DRIFT), averaged over the gap of 1/fps seconds. Fast content needs a high fps, a
    static scene does not (CASVA's content dynamics); this is how fewer frames cost accuracy even though
    the F1 of the frames that were analysed does not change.
    """
    x = (DEFAULT_VELOCITY if velocity is None else velocity) / max(fps, 1e-3) / DRIFT
    return 1.0 if x < 1e-6 else (1 - math.exp(-x)) / x


def stream_accuracy(item: TaskFeedback, labelled: float | None = None) -> float:
    """The task's accuracy as a stream shows it.

    With ground truth: its F1 times :func:`freshness`. Without: ``labelled``, the F1 relative to the golden
    configuration that golden labels give its knobs (fps already measured with skipped frames carrying the
    last detections, so no freshness factor). With neither: :func:`freshness` alone, the share a lower rate
    costs on moving content; no accuracy is made up from object counts."""
    if item.accuracy is not None:
        return item.accuracy * freshness(item.meta.fps, item.content.obj_velocity)
    if labelled is not None:
        return labelled
    return freshness(item.meta.fps, item.content.obj_velocity)


def reward(
    items: list[TaskFeedback | DropFeedback],
    slo_s: float,
    mode: str,
    delay_weight: float,
    labelled: Callable[[Meta], float | None] | None = None,
) -> float:
    """Mean reward over the tasks a decision produced (golden profiling segments are not the policy's).

    ``labelled``: a configuration's F1 from golden labels, for tasks without ground truth.

    ``latency-first``: stream accuracy minus ``delay_weight`` x delay / SLO, the ratio capped at
    ``LATE_CAP``; a drop scores as a task at that cap (a drop must never pay better than a late task, or
    overloading until segments are dropped would look attractive). ``delivery-first``: stream accuracy of
    the tasks delivered within the SLO, minus ``delay_weight`` per skipped (dropped or late) task.
    """
    items = [i for i in items if i.meta is None or LABEL_KEY not in i.meta.extra]
    if not items:
        return 0.0
    total = 0.0
    for item in items:
        if isinstance(item, DropFeedback):
            total += -LATE_CAP * delay_weight if mode == "latency-first" else -delay_weight
            continue
        accuracy = stream_accuracy(item, labelled(item.meta) if labelled is not None else None)
        if mode == "latency-first":
            total += accuracy - delay_weight * min(item.delay / slo_s, LATE_CAP)
        else:
            total += accuracy if item.delay <= slo_s else -delay_weight
    return total / len(items)
