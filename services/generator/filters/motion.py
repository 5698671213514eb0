"""``motion`` frame filter: frames of a still scene are skipped, moving scenes keep the planned fps."""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import Field

from common.registry import HookConfig, hook
from services.generator.filters.fps import FpsFilter, FpsFilterConfig
from services.generator.frame_filter import FAMILY, FrameFilter
from services.generator.source import Frame


class MotionFilterConfig(HookConfig):
    threshold: float = Field(
        4.0, ge=0, le=255, description="Mean absolute grey-level change (0-255) that counts as motion."
    )
    min_fps: float = Field(1.0, gt=0, le=240, description="Rate kept even in a still scene.")
    probe_width: int = Field(64, ge=8, le=640, description="Width frames are shrunk to before comparing.")


@hook(FAMILY, "motion")
class MotionFilter(FrameFilter):
    """Planned-fps downsampling first; of those frames, one that barely differs from the last kept frame is
    dropped unless ``1 / min_fps`` of source time has passed since that frame."""

    Config = MotionFilterConfig

    config: MotionFilterConfig

    def __init__(self, config: MotionFilterConfig) -> None:
        super().__init__(config)
        self._rate = FpsFilter(FpsFilterConfig())
        self._last: np.ndarray | None = None
        self._last_time = float("-inf")

    def _probe(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        size = (self.config.probe_width, max(1, round(height * self.config.probe_width / width)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        return grey.astype(np.int16)

    def keep(self, frame: Frame, source_fps: float, target_fps: float) -> bool:
        if not self._rate.keep(frame, source_fps, target_fps):
            return False
        probe = self._probe(frame.image)
        moving = self._last is None or float(np.abs(probe - self._last).mean()) >= self.config.threshold
        overdue = frame.timestamp - self._last_time >= 1.0 / self.config.min_fps
        if moving or overdue:
            self._last, self._last_time = probe, frame.timestamp
            return True
        return False
