"""``plate-detection``: OpenCV's licence-plate Haar cascade (haarcascade_russian_plate_number.xml).

The cascade's boxes include a margin around the plate; reported boxes are shrunk about their centre by
``shrink`` (measured on rendered plates, see docs/applications.md) so they compare with tight plate
boxes. Frames are downscaled to ``max_side`` first.
"""

from __future__ import annotations

from typing import Any, ClassVar

import cv2
import numpy as np
from pydantic import Field

from common.errors import Unavailable
from common.registry import hook
from common.results import Detection, FrameResult, SegmentResult
from services.processor.application import Application, ApplicationConfig
from services.processor.applications.support import check_frames, clip_box, set_opencv_threads

CASCADE = "haarcascade_russian_plate_number.xml"


class PlateDetectionConfig(ApplicationConfig):
    scale_factor: float = Field(1.1, gt=1.0, le=2.0, description="Pyramid step of the cascade.")
    min_neighbors: int = Field(3, ge=0, le=50, description="Overlapping hits needed to keep a box.")
    min_size: tuple[int, int] = Field((48, 16), description="Smallest plate (w, h) in downscaled pixels.")
    max_side: int = Field(1280, ge=128, le=4096, description="Frames are downscaled to this long side first.")
    shrink: tuple[float, float] = Field((0.75, 0.68), description="Share of the cascade box (w, h) the plate fills.")


@hook("application", "plate-detection")
class PlateDetection(Application):
    """Finds licence plates with a Haar cascade; outputs boxes labelled ``plate``."""

    Config: ClassVar[type[PlateDetectionConfig]] = PlateDetectionConfig
    input_type: ClassVar[str] = "frame"
    output_type: ClassVar[str] = "bbox"
    classes: ClassVar[tuple[str, ...]] = ("plate",)

    def __init__(self, config: PlateDetectionConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.cascade: cv2.CascadeClassifier | None = None

    def load(self) -> None:
        set_opencv_threads(self.cfg)
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE)  # type: ignore[attr-defined]
        if cascade.empty():
            raise Unavailable(f"OpenCV ships no {CASCADE} here (OpenCV 4.x wheels do; 5.x do not)")
        self.cascade = cascade

    def warmup(self, width: int, height: int) -> None:
        self.process([np.zeros((height, width, 3), np.uint8)], None)

    def process(self, frames: list[np.ndarray], upstream: SegmentResult | None) -> list[FrameResult]:
        check_frames(frames, self.alias)
        if self.cascade is None:
            self.load()
        return [self._detect(frame) for frame in frames]

    def _detect(self, frame: np.ndarray) -> FrameResult:
        assert self.cascade is not None
        height, width = frame.shape[:2]
        factor = min(1.0, self.cfg.max_side / max(width, height))
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if factor < 1:
            gray = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        found = self.cascade.detectMultiScale(
            gray, scaleFactor=self.cfg.scale_factor, minNeighbors=self.cfg.min_neighbors, minSize=self.cfg.min_size
        )
        fw, fh = self.cfg.shrink
        objects = []
        for x, y, w, h in found:
            cx, cy = (x + w / 2) / factor, (y + h / 2) / factor
            hw, hh = w * fw / 2 / factor, h * fh / 2 / factor
            objects.append(Detection(box=clip_box((cx - hw, cy - hh, cx + hw, cy + hh), width, height), label="plate"))
        return FrameResult(width=width, height=height, objects=objects)

    def info(self) -> dict[str, Any]:
        return {**super().info(), "model": CASCADE, "runtime": "opencv", "threads": self.cfg.threads}
