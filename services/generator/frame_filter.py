"""The ``frame_filter`` hook family: which source frames go into segments (fps downsampling, motion)."""

from __future__ import annotations

from common.registry import REGISTRY, Hook
from services.generator.source import Frame

FAMILY = "frame_filter"


class FrameFilter(Hook):
    def keep(self, frame: Frame, source_fps: float, target_fps: float) -> bool:
        """True when ``frame`` goes into the next segment."""
        raise NotImplementedError


REGISTRY.declare_modules(FAMILY, ["services.generator.filters.fps", "services.generator.filters.motion"])
