"""The ``source`` hook family: where a generator's frames come from (file, http, rtsp, camera).

A source is read from a worker thread (its calls may block); the generator applies the frame filter,
resizing and encoding. Each hook lives in one file under ``services/generator/sources/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from common.registry import REGISTRY, Hook
from common.task import RawMeta

FAMILY = "source"


@dataclass
class Frame:
    image: np.ndarray
    """BGR uint8 frame at the source's native resolution."""
    index: int
    """Source frame index (position in the dataset or stream), used for ground truth."""
    timestamp: float
    """Source time in seconds (index / native fps for replayed sources)."""
    truth: dict[str, Any] | None = None
    """Ground truth of this frame, when the source has it."""


class FrameSource(Hook):
    """Base of every source hook."""

    def open(self) -> RawMeta:
        """Connect/open and return the native properties. Raises a DayuError when it cannot."""
        raise NotImplementedError

    def read(self) -> Frame | None:
        """The next frame, or None once a finite stream has ended. May block (bounded by its timeouts)."""
        raise NotImplementedError

    def set_rate_hint(self, fps: float) -> None:
        """The planned fps; sources that can skip frames remotely (http) use it to save bandwidth."""

    def delivered_fps(self, native_fps: float) -> float:
        """Frames per second this source hands over; below ``native_fps`` when it skips frames remotely."""
        return native_fps

    @property
    def paced(self) -> bool:
        """True when the source already delivers frames in real time (live cameras, the datasource)."""
        return False

    def interrupt(self) -> None:
        """Called from another thread when reading is to stop: a read that waits (reconnecting, backing off)
        returns soon. :meth:`close` still follows, in the reading thread."""

    def close(self) -> None:
        """Release the source."""


REGISTRY.declare_modules(
    FAMILY,
    [
        "services.generator.sources.file",
        "services.generator.sources.http",
        "services.generator.sources.rtsp",
        "services.generator.sources.camera",
    ],
)
