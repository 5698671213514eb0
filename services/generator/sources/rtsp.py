"""``rtsp`` source: an RTSP stream through OpenCV (FFmpeg backend), reconnecting with backoff."""

from __future__ import annotations

import os

import cv2
from pydantic import Field

from common.registry import hook
from common.task import RawMeta
from services.generator.source import FAMILY
from services.generator.sources.capture import LiveCapture, LiveCaptureConfig


class RtspSourceConfig(LiveCaptureConfig):
    url: str = Field(pattern=r"^rtsps?://", description="rtsp://host:port/path of the stream.")
    transport: str = Field("tcp", pattern="^(tcp|udp)$", description="RTP transport.")


@hook(FAMILY, "rtsp")
class RtspSource(LiveCapture):
    Config = RtspSourceConfig
    config: RtspSourceConfig

    def target(self) -> str:
        return self.config.url

    def backend(self) -> int:
        return int(cv2.CAP_FFMPEG)

    def open(self) -> RawMeta:
        # FFmpeg reads its RTSP options from this variable when the capture is created.
        os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = f"rtsp_transport;{self.config.transport}"
        meta = super().open()
        meta.encoding = "rtsp"
        return meta
