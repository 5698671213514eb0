"""``resize`` frame process: scale frames to a named resolution (1080p ... 240p), keeping the aspect ratio."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from common.derive import INTERPOLATIONS, RESOLUTIONS, resolution_height, resolution_name, scale, target_size
from common.registry import HookConfig, hook
from services.generator.frame_process import FAMILY, FrameProcess

__all__ = ["RESOLUTIONS", "Resize", "ResizeConfig", "resolution_height", "resolution_name", "target_size"]


class ResizeConfig(HookConfig):
    upscale: bool = Field(False, description="Also enlarge frames smaller than the planned resolution.")
    interpolation: str = Field("area", pattern=f"^({'|'.join(INTERPOLATIONS)})$", description="OpenCV interpolation.")


@hook(FAMILY, "resize")
class Resize(FrameProcess):
    """Scale to the planned named resolution; frames already at that size pass untouched."""

    Config = ResizeConfig

    config: ResizeConfig

    def apply(self, image: np.ndarray, resolution: str) -> np.ndarray:
        return scale(image, resolution, upscale=self.config.upscale, interpolation=self.config.interpolation)
