"""Live OpenCV captures (RTSP, V4L2 cameras) with bounded reconnects and exponential backoff."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from pydantic import Field

from common.backoff import Backoff
from common.errors import Unavailable
from common.registry import HookConfig
from common.task import RawMeta
from services.generator.processes.resize import resolution_name
from services.generator.source import NO_IMAGE, Frame, FrameSource

log = logging.getLogger(__name__)


class LiveCaptureConfig(HookConfig):
    reconnect_attempts: int = Field(10, ge=0, le=1000, description="Reconnects tried in a row before giving up.")
    backoff_s: float = Field(0.5, gt=0, le=60, description="First wait before a reconnect; doubles each try.")
    max_backoff_s: float = Field(8.0, gt=0, le=600, description="Longest wait between reconnects.")
    open_timeout_s: float = Field(5.0, gt=0, le=120, description="Timeout of one connection attempt.")
    read_timeout_s: float = Field(5.0, gt=0, le=120, description="Timeout of one frame read.")


class LiveCapture(FrameSource):
    """A live stream: frames come in real time, a broken stream is reopened a bounded number of times."""

    config: LiveCaptureConfig

    def __init__(self, config: LiveCaptureConfig, *, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(config)
        self._cap: cv2.VideoCapture | None = None
        self._count = 0
        self._started = 0.0
        self._sleep = sleep
        self._closed = threading.Event()
        self.reconnects = 0

    def target(self) -> Any:
        """What ``cv2.VideoCapture`` opens (a URL or a device)."""
        raise NotImplementedError

    def backend(self) -> int:
        return int(cv2.CAP_ANY)

    def _connect(self) -> cv2.VideoCapture | None:
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(self.config.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(self.config.read_timeout_s * 1000),
        ]
        cap = cv2.VideoCapture(self.target(), self.backend(), params)
        if cap.isOpened():
            return cap
        cap.release()
        return None

    def _reconnect(self) -> bool:
        backoff = Backoff(self.config.backoff_s, self.config.max_backoff_s)
        for attempt in range(1, self.config.reconnect_attempts + 1):
            if self._closed.is_set():
                return False
            self._sleep(backoff.delay(attempt))
            log.warning("reconnecting to %s (attempt %d/%d)", self.target(), attempt, self.config.reconnect_attempts)
            cap = self._connect()
            if cap is not None:
                self._cap = cap
                self.reconnects += 1
                return True
        return False

    def open(self) -> RawMeta:
        self._cap = self._connect()
        if self._cap is None and not self._reconnect():
            raise Unavailable(f"cannot open {self.target()} after {self.config.reconnect_attempts} reconnects")
        assert self._cap is not None
        self._started = time.monotonic()
        width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        return RawMeta(
            width=width or None,
            height=height or None,
            fps=fps if 0 < fps <= 240 else None,
            resolution=resolution_name(height) if height else None,
        )

    def _next(self, decode: bool) -> Frame | None:
        """The next frame, its image only when ``decode`` (a grab without retrieve skips the conversion to BGR
        and the copy); a broken stream is reopened, a bounded number of times."""
        while not self._closed.is_set():
            if self._cap is not None and self._cap.grab():
                image: np.ndarray | None = NO_IMAGE
                if decode:
                    ok, image = self._cap.retrieve()
                    image = image if ok else None
                if image is not None:
                    if decode:
                        self.images_decoded += 1
                    else:
                        self.frames_skipped += 1
                    frame = Frame(image=image, index=self._count, timestamp=time.monotonic() - self._started)
                    self._count += 1
                    return frame
            if self._cap is not None:
                self._cap.release()
                self._cap = None
            if not self._reconnect():
                log.error("giving up on %s after %d reconnects", self.target(), self.config.reconnect_attempts)
                return None
        return None

    def read(self) -> Frame | None:
        return self._next(decode=True)

    def skip(self) -> Frame | None:
        return self._next(decode=False)

    @property
    def paced(self) -> bool:
        return True

    def interrupt(self) -> None:
        self._closed.set()

    def close(self) -> None:
        self._closed.set()
        if self._cap is not None:
            self._cap.release()
            self._cap = None
