"""``passthrough``: no model. Reports each frame's size; proves the path without inference cost.

It needs no pixels, so the processor only probes the segment's container (frame count and size): an
unreadable file is still a decode error, but the frames are not decoded.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from common.registry import hook
from common.results import FrameResult, SegmentResult
from services.processor.application import FAMILY, Application, ApplicationConfig
from services.processor.decode import SegmentProbe


class PassthroughConfig(ApplicationConfig):
    """No parameters beyond the common ones."""


@hook(FAMILY, "passthrough")
class Passthrough(Application):
    """Returns one empty result per frame."""

    Config = PassthroughConfig
    input_type: ClassVar[str] = "frame"
    output_type: ClassVar[str] = "frame"
    needs_frames: ClassVar[bool] = False

    def describe(self, probe: SegmentProbe, upstream: SegmentResult | None) -> list[FrameResult]:
        return [FrameResult(width=probe.width, height=probe.height) for _ in range(probe.frames)]

    def process(self, frames: list[np.ndarray], upstream: SegmentResult | None) -> list[FrameResult]:
        return [FrameResult(width=int(f.shape[1]), height=int(f.shape[0])) for f in frames]
