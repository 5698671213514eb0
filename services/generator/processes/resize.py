"""``resize`` frame process: scale frames to a named resolution (1080p ... 240p), keeping the aspect ratio."""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import Field

from common.errors import InvalidInput
from common.registry import HookConfig, hook
from services.generator.frame_process import FAMILY, FrameProcess

RESOLUTIONS: dict[str, int] = {
    "2160p": 2160,
    "1440p": 1440,
    "1080p": 1080,
    "900p": 900,
    "720p": 720,
    "540p": 540,
    "480p": 480,
    "360p": 360,
    "240p": 240,
    "144p": 144,
}
"""Named resolution -> frame height in pixels."""


def resolution_height(name: str) -> int:
    try:
        return RESOLUTIONS[name]
    except KeyError:
        raise InvalidInput(f"unknown resolution {name!r}; known: {', '.join(RESOLUTIONS)}") from None


def resolution_name(height: int) -> str:
    """The named resolution closest to ``height``."""
    return min(RESOLUTIONS, key=lambda name: abs(RESOLUTIONS[name] - height))


def target_size(width: int, height: int, name: str, *, upscale: bool = False) -> tuple[int, int]:
    """(width, height) for ``name`` with the source aspect ratio, both even (encoders need it)."""
    target_h = resolution_height(name)
    if not upscale and target_h >= height:
        target_h = height
    target_w = round(width * target_h / height)
    return max(2, target_w - target_w % 2), max(2, target_h - target_h % 2)


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
