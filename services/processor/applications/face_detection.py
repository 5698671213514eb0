"""``face-detection``: OpenCV's Haar frontal-face cascade (shipped inside the OpenCV wheel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
from pydantic import Field

from common.errors import Unavailable
from common.registry import hook
from services.processor.application import (
    FAMILY,
    Application,
    ApplicationConfig,
    Detection,
    FrameResult,
    SegmentResult,
)


class FaceDetectionConfig(ApplicationConfig):
    cascade: str = Field(
        "haarcascade_frontalface_default.xml", description="Cascade file name under cv2.data.haarcascades."
    )
    scale_factor: float = Field(1.2, gt=1.0, le=2.0, description="Image pyramid step of detectMultiScale.")
    min_neighbors: int = Field(5, ge=0, le=50, description="Neighbouring detections needed to keep a face.")
    min_size: int = Field(60, ge=8, le=4096, description="Smallest face side in pixels.")


@hook(FAMILY, "face-detection")
class FaceDetection(Application):
    """Finds frontal faces; each becomes a `face` detection with score 1."""

    Config = FaceDetectionConfig
    input_type: ClassVar[str] = "frame"
    output_type: ClassVar[str] = "bbox"

    def __init__(self, config: FaceDetectionConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self._cascade: cv2.CascadeClassifier | None = None

    def load(self) -> None:
        if self.cfg.threads is not None:
            cv2.setNumThreads(self.cfg.threads)
        path = Path(cv2.data.haarcascades) / self.cfg.cascade  # type: ignore[attr-defined]
        cascade = cv2.CascadeClassifier(str(path))
        if cascade.empty():
            raise Unavailable(f"cannot load Haar cascade {path}: this OpenCV build ships none")
        self._cascade = cascade

    def warmup(self, width: int, height: int) -> None:
        self.process([np.zeros((height, width, 3), np.uint8)], None)

    def process(self, frames: list[np.ndarray], upstream: SegmentResult | None) -> list[FrameResult]:
        if self._cascade is None:
            self.load()
        assert self._cascade is not None
        out = []
        for frame in frames:
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            boxes = self._cascade.detectMultiScale(
                gray,
                scaleFactor=self.cfg.scale_factor,
                minNeighbors=self.cfg.min_neighbors,
                minSize=(self.cfg.min_size, self.cfg.min_size),
            )
            objects = [
                Detection(box=(float(x), float(y), float(x + w), float(y + h)), label="face") for x, y, w, h in boxes
            ]
            out.append(FrameResult(width=int(frame.shape[1]), height=int(frame.shape[0]), objects=objects))
        return out

    def info(self) -> dict[str, Any]:
        return {
            **super().info(),
            "runtime": "opencv",
            "threads": self.cfg.threads,
            "cascade": self.cfg.cascade,
        }
