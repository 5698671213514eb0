"""``fps`` frame filter: keep an evenly spread ``target / source`` share of the frames."""

from __future__ import annotations

from common.derive import fps_ratio, keeps
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
        n = self._seen
        self._seen += 1
        # Counting frames seen (not frame.index) keeps the spacing even across loops and reconnects.
        return keeps(n, fps_ratio(source_fps, target_fps))
