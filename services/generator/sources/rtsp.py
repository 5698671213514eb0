"""``rtsp`` source: an RTSP stream through OpenCV (FFmpeg backend), reconnecting with backoff."""

from __future__ import annotations

import os
import threading

import cv2
from pydantic import Field

from common.registry import hook
from common.task import RawMeta
from services.generator.source import FAMILY
from services.generator.sources.capture import LiveCapture, LiveCaptureConfig

_OPTIONS = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
_OPTIONS_LOCK = threading.Lock()
"""Two sources of one process creating captures at once must not see each other's transport."""


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

    def _connect(self) -> cv2.VideoCapture | None:
        # FFmpeg reads its RTSP options from this variable only while a capture is created (the first one
        # and every reconnect): set for that moment, then put back, so nothing else in the process sees it.
        with _OPTIONS_LOCK:
            before = os.environ.get(_OPTIONS)
            os.environ[_OPTIONS] = f"rtsp_transport;{self.config.transport}"
            try:
                return super()._connect()
            finally:
                if before is None:
                    del os.environ[_OPTIONS]
                else:
                    os.environ[_OPTIONS] = before

    def open(self) -> RawMeta:
        meta = super().open()
        meta.encoding = "rtsp"
        return meta
