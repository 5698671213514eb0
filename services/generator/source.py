"""The ``source`` hook family: where a generator's frames come from (file, http, rtsp, camera).

A source is read from a worker thread (its calls may block); the generator applies the frame filter,
resizing and encoding. Each hook lives in one file under ``services/generator/sources/``.

A frame that no segment will encode (one of a segment the node's admission shed) is taken with
:meth:`FrameSource.skip`: the same frame as :meth:`FrameSource.read` at the same pace, with its index,
timestamp and truth, but without its image, which each source skips at the cheapest level it can (a file or
a camera grabs without retrieving, the datasource's JPEGs are not decoded). Every source counts the images
it decoded and the frames it skipped, so what shedding saves is seen, not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from common.registry import REGISTRY, Hook, HookConfig
from common.task import RawMeta

FAMILY = "source"
NO_IMAGE = np.empty((0, 0, 3), np.uint8)
"""The image of a frame handed over by :meth:`FrameSource.skip`: none was made."""


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

    def __init__(self, config: HookConfig) -> None:
        super().__init__(config)
        self.images_decoded = 0
        """Frames whose image this source decoded (the built-in sources count it in :meth:`read`)."""
        self.frames_skipped = 0
        """Frames handed over by :meth:`skip`, without their image."""

    def open(self) -> RawMeta:
        """Connect/open and return the native properties. Raises a DayuError when it cannot."""
        raise NotImplementedError

    def read(self) -> Frame | None:
        """The next frame, or None once a finite stream has ended. May block (bounded by its timeouts)."""
        raise NotImplementedError

    def skip(self) -> Frame | None:
        """The next frame as :meth:`read` would hand it over (same pace, index, timestamp and truth) but with
        ``NO_IMAGE``: no segment will encode it. A source skips what it can of making the image; this default
        reads the frame and drops its image. Count each frame in ``frames_skipped``."""
        frame = self.read()
        if frame is not None:
            frame.image = NO_IMAGE
            self.frames_skipped += 1
        return frame

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
