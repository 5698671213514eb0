"""The state both learning agents see, built from the per-source feedback history; and their rewards.

A window of the last ``WINDOW`` tasks: measured bandwidth (segment bits over the transmit time of the
stage that received it), delay over the SLO, segment size, objects per frame, object velocity, and
whether the task was dropped (a skipped segment); plus the current knob indices, normalised.
"""

from __future__ import annotations

import numpy as np

from common.feedback import DropFeedback, TaskFeedback

WINDOW = 8
PER_TASK = 6


def bandwidth_mbps(fb: TaskFeedback) -> float | None:
    """Bits of the segment over the longest transmit of a stage (the one that crossed the link)."""
    transmit = max((s.transmit or 0.0 for s in fb.stages), default=0.0)
    if not fb.segment_bytes or transmit <= 0.005:
        return None
    return fb.segment_bytes * 8 / transmit / 1e6


def task_row(item: TaskFeedback | DropFeedback, slo_s: float) -> list[float]:
    if isinstance(item, DropFeedback):
        return [0.0, 2.0, (item.segment_bytes or 0) / 1e6, 0.0, 0.0, 1.0]
    bw = bandwidth_mbps(item)
    return [
        min((bw or 0.0) / 50.0, 2.0),
        min(item.delay / slo_s, 4.0),
        min((item.segment_bytes or 0) / 1e6, 4.0),
        min((item.content.obj_num or 0.0) / 10.0, 2.0),
        min((item.content.obj_velocity or 0.0), 2.0),
        0.0,
    ]


def state_vector(items: list[TaskFeedback | DropFeedback], knobs: list[float], slo_s: float) -> np.ndarray:
    """``WINDOW`` x ``PER_TASK`` figures (zeros where fewer tasks arrived), then the knob positions (0-1)."""
    rows = [task_row(i, slo_s) for i in items[-WINDOW:]]
    rows = [[0.0] * PER_TASK] * (WINDOW - len(rows)) + rows
    return np.asarray([v for row in rows for v in row] + list(knobs), dtype=np.float32)


def state_dim(knobs: int) -> int:
    return WINDOW * PER_TASK + knobs


def reward(items: list[TaskFeedback | DropFeedback], slo_s: float, mode: str, delay_weight: float) -> float:
    """Mean reward over the tasks a decision produced.

    ``latency-first``: accuracy minus ``delay_weight`` x delay / SLO (a drop scores -2 x weight).
    ``delivery-first``: accuracy of the tasks delivered within the SLO, minus ``delay_weight`` per skipped
    (dropped or late) task. Accuracy is the task's F1 where known, else 1 - 1/(1+objects) as a proxy.
    """
    if not items:
        return 0.0
    total = 0.0
    for item in items:
        if isinstance(item, DropFeedback):
            total += -2 * delay_weight if mode == "latency-first" else -delay_weight
            continue
        accuracy = item.accuracy if item.accuracy is not None else 1 - 1 / (1 + (item.content.obj_num or 0.0))
        if mode == "latency-first":
            total += accuracy - delay_weight * item.delay / slo_s
        else:
            total += accuracy if item.delay <= slo_s else -delay_weight
    return total / len(items)
