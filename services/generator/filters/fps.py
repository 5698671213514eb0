"""``fps`` frame filter: keep an evenly spread ``target / source`` share of the frames."""

from __future__ import annotations

import math

from common.registry import HookConfig, hook
from services.generator.frame_filter import FAMILY, FrameFilter
from services.generator.source import Frame


class FpsFilterConfig(HookConfig):
    pass


@hook(FAMILY, "fps")
class FpsFilter(FrameFilter):
    """Downsample to the planned fps (never above the source's): frame n is kept when n * ratio crosses an integer."""

    Config = FpsFilterConfig

    def __init__(self, config: HookConfig) -> None:
        super().__init__(config)
        self._seen = 0

    def keep(self, frame: Frame, source_fps: float, target_fps: float) -> bool:
        ratio = 1.0 if source_fps <= 0 else min(1.0, target_fps / source_fps)
        n = self._seen
        self._seen += 1
        # Counting frames seen (not frame.index) keeps the spacing even across loops and reconnects.
        return math.floor((n + 1) * ratio + 1e-9) > math.floor(n * ratio + 1e-9)
