"""``v4l2`` source: a local camera (``/dev/videoN`` or an index) through OpenCV's V4L2 backend."""

from __future__ import annotations

import cv2
from pydantic import Field

from common.registry import hook
from services.generator.source import FAMILY
from services.generator.sources.capture import LiveCapture, LiveCaptureConfig


class CameraSourceConfig(LiveCaptureConfig):
    device: str = Field("/dev/video0", min_length=1, description="Device path or index (e.g. '0').")


@hook(FAMILY, "v4l2")
class CameraSource(LiveCapture):
    Config = CameraSourceConfig
    config: CameraSourceConfig

    def target(self) -> str | int:
        device = self.config.device
        return int(device) if device.isdigit() else device

    def backend(self) -> int:
        return int(cv2.CAP_V4L2)
