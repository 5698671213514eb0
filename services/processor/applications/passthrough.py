"""``passthrough``: no model. Reports each frame's size; proves the path without inference cost."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from common.registry import hook
from services.processor.application import FAMILY, Application, ApplicationConfig, FrameResult, SegmentResult


class PassthroughConfig(ApplicationConfig):
    """No parameters beyond the common ones."""


@hook(FAMILY, "passthrough")
class Passthrough(Application):
    """Returns one empty result per frame."""

    Config = PassthroughConfig
    input_type: ClassVar[str] = "frame"
    output_type: ClassVar[str] = "frame"

    def process(self, frames: list[np.ndarray], upstream: SegmentResult | None) -> list[FrameResult]:
        return [FrameResult(width=int(f.shape[1]), height=int(f.shape[0])) for f in frames]
