"""``resize`` frame process: scale frames to a named resolution (1080p ... 240p), keeping the aspect ratio."""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import Field

from common.derive import RESOLUTIONS, resolution_height, resolution_name, target_size
from common.registry import HookConfig, hook
from services.generator.frame_process import FAMILY, FrameProcess

__all__ = ["RESOLUTIONS", "Resize", "ResizeConfig", "resolution_height", "resolution_name", "target_size"]


class ResizeConfig(HookConfig):
    upscale: bool = Field(False, description="Also enlarge frames smaller than the planned resolution.")
    interpolation: str = Field("area", pattern="^(area|linear|nearest)$", description="OpenCV interpolation.")


_INTERPOLATION = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}


@hook(FAMILY, "resize")
class Resize(FrameProcess):
    """Scale to the planned named resolution; frames already at that size pass untouched."""

    Config = ResizeConfig

    config: ResizeConfig

    def apply(self, image: np.ndarray, resolution: str) -> np.ndarray:
        height, width = image.shape[:2]
        size = target_size(width, height, resolution, upscale=self.config.upscale)
        if size == (width, height):
            return image
        return cv2.resize(image, size, interpolation=_INTERPOLATION[self.config.interpolation])
