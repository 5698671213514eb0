"""``face-detection``: BlazeFace (a DNN shipped in a package) or OpenCV's Haar frontal-face cascade.

The model is a knob: ``model`` picks the default, and a task's ``meta.extra["model"]`` picks per task
(a cheap cascade on the edge, BlazeFace on the cloud). Each model loads on its first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import cv2
import numpy as np
from pydantic import Field

from common.errors import ConfigError, Unavailable
from common.registry import hook
from common.results import Detection, FrameResult, SegmentResult
from services.processor.application import FAMILY, Application, ApplicationConfig
from services.processor.applications.packaged import BlazeFace

MODELS = ("haar", "blazeface")


class FaceDetectionConfig(ApplicationConfig):
    model: Literal["haar", "blazeface"] = Field(
        "haar", description="Model used when a task does not pick one: haar (cheap) or blazeface (DNN, accurate)."
    )
    blazeface_threshold: float = Field(0.6, gt=0, lt=1, description="Least BlazeFace score kept.")
    cascade: str = Field(
        "haarcascade_frontalface_default.xml", description="Cascade file name under cv2.data.haarcascades."
    )
    scale_factor: float = Field(1.2, gt=1.0, le=2.0, description="Image pyramid step of detectMultiScale.")
    min_neighbors: int = Field(5, ge=0, le=50, description="Neighbouring detections needed to keep a face.")
    min_size: int = Field(60, ge=8, le=4096, description="Smallest face side in pixels.")


@hook(FAMILY, "face-detection")
class FaceDetection(Application):
    """Finds faces; each becomes a `face` detection (score 1 from the cascade, the DNN's score otherwise)."""

    Config = FaceDetectionConfig
    input_type: ClassVar[str] = "frame"
    output_type: ClassVar[str] = "bbox"
    classes: ClassVar[tuple[str, ...]] = ("face",)
    models: ClassVar[tuple[str, ...]] = MODELS

    def __init__(self, config: FaceDetectionConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self._cascade: cv2.CascadeClassifier | None = None
        self.blazeface = BlazeFace(config.blazeface_threshold)

    def load(self) -> None:
        if self.cfg.threads is not None:
            cv2.setNumThreads(self.cfg.threads)
        if self.cfg.model == "blazeface":
            self.blazeface.net()
            return
        self._load_cascade()

    def _load_cascade(self) -> None:
        path = Path(cv2.data.haarcascades) / self.cfg.cascade  # type: ignore[attr-defined]
        cascade = cv2.CascadeClassifier(str(path))
        if cascade.empty():
            raise Unavailable(f"cannot load Haar cascade {path}: this OpenCV build ships none")
        self._cascade = cascade

    def warmup(self, width: int, height: int) -> None:
        self.process([np.zeros((height, width, 3), np.uint8)], None)

    def process(self, frames: list[np.ndarray], upstream: SegmentResult | None) -> list[FrameResult]:
        return self.process_with(None, frames, upstream)

    def process_with(
        self, model: str | None, frames: list[np.ndarray], upstream: SegmentResult | None
    ) -> list[FrameResult]:
        name = model or self.cfg.model
        if name == "blazeface":
            return [
                FrameResult(width=int(f.shape[1]), height=int(f.shape[0]), objects=self.blazeface.detect(f))
                for f in frames
            ]
        if name != "haar":
            raise ConfigError(f"face-detection has no model {name!r}; models: {', '.join(MODELS)}")
        if self._cascade is None:
            self._load_cascade()
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
            "model": self.cfg.model,
            "models": list(MODELS),
        }
