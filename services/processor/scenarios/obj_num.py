"""``obj-num``: mean number of objects per frame."""

from __future__ import annotations

from common.registry import hook
from common.results import FrameResult
from services.processor.scenario import FAMILY, ScenarioExtractor


@hook(FAMILY, "obj-num")
class ObjectNumber(ScenarioExtractor):
    """Mean objects per frame (0 for a segment without frames)."""

    def extract(self, frames: list[FrameResult], fps: float) -> dict[str, float]:
        if not frames:
            return {"obj_num": 0.0}
        return {"obj_num": sum(len(f.objects) for f in frames) / len(frames)}
