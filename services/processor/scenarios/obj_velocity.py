"""``obj-velocity``: how fast objects move, in frame diagonals per second.

Consecutive frames' boxes are paired greedily by nearest centre (track ids are used when the
application gives them); the mean displacement per frame times the fps gives the speed.
"""

from __future__ import annotations

import itertools
import math

from common.registry import hook
from common.results import Detection, FrameResult
from services.processor.scenario import FAMILY, ScenarioExtractor, box_center


def _pairs(before: list[Detection], after: list[Detection]) -> list[tuple[Detection, Detection]]:
    tracked = {d.track_id: d for d in before if d.track_id is not None}
    pairs = [(tracked[d.track_id], d) for d in after if d.track_id is not None and d.track_id in tracked]
    if pairs:
        return pairs
    candidates = sorted(
        (
            (math.dist(box_center(a.box), box_center(b.box)), i, j)
            for i, a in enumerate(before)
            for j, b in enumerate(after)
        ),
    )
    used_a: set[int] = set()
    used_b: set[int] = set()
    for _, i, j in candidates:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((before[i], after[j]))
    return pairs


@hook(FAMILY, "obj-velocity")
class ObjectVelocity(ScenarioExtractor):
    """Mean object displacement between consecutive frames, in frame diagonals per second."""

    def extract(self, frames: list[FrameResult], fps: float) -> dict[str, float]:
        steps = []
        for before, after in itertools.pairwise(frames):
            if not after.width or not after.height:
                continue
            diagonal = math.hypot(after.width, after.height)
            for a, b in _pairs(before.objects, after.objects):
                steps.append(math.dist(box_center(a.box), box_center(b.box)) / diagonal)
        per_frame = sum(steps) / len(steps) if steps else 0.0
        return {"obj_velocity": per_frame * fps}
