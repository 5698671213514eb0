"""The ``scenario`` hook family: figures describing what a segment shows (object count, size, speed).

Schedulers read them from ``Stage.scenario`` to adapt configurations. Each extractor is one file
under ``services/processor/scenarios/``.
"""

from __future__ import annotations

from common.registry import REGISTRY, Hook
from common.results import FrameResult

FAMILY = "scenario"


class ScenarioExtractor(Hook):
    """Base of every scenario hook."""

    def extract(self, frames: list[FrameResult], fps: float) -> dict[str, float]:
        """Figures for one segment; frames hold the application's detections in order."""
        raise NotImplementedError


def box_center(box: tuple[float, float, float, float]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0


REGISTRY.declare_modules(
    FAMILY,
    [
        "services.processor.scenarios.obj_num",
        "services.processor.scenarios.obj_size",
        "services.processor.scenarios.obj_velocity",
    ],
)
