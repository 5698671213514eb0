"""``obj-size``: mean object area as a fraction of the frame area (resolution-independent)."""

from __future__ import annotations

from common.registry import hook
from common.results import FrameResult
from services.processor.scenario import FAMILY, ScenarioExtractor


@hook(FAMILY, "obj-size")
class ObjectSize(ScenarioExtractor):
    """Mean box area / frame area over every object of the segment (0 without objects)."""

    def extract(self, frames: list[FrameResult], fps: float) -> dict[str, float]:
        ratios = []
        for frame in frames:
            if not frame.width or not frame.height:
                continue
            area = float(frame.width * frame.height)
            for obj in frame.objects:
                x1, y1, x2, y2 = obj.box
                ratios.append(max(0.0, x2 - x1) * max(0.0, y2 - y1) / area)
        return {"obj_size": sum(ratios) / len(ratios) if ratios else 0.0}
