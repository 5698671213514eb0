"""The ``frame_process`` hook family: per-frame transforms before encoding (resize, ...)."""

from __future__ import annotations

import numpy as np

from common.registry import REGISTRY, Hook

FAMILY = "frame_process"


class FrameProcess(Hook):
    def apply(self, image: np.ndarray, resolution: str) -> np.ndarray:
        """Return the frame as it goes into the segment at the planned ``resolution``."""
        raise NotImplementedError


REGISTRY.declare_modules(FAMILY, ["services.generator.processes.resize"])
