"""``pedestrian-detection``: an SSDLite person detector (a DNN shipped in a package) or OpenCV's HOG.

The model is a knob: ``model`` picks the default, and a task's ``meta.extra["model"]`` picks per task
(HOG on a small edge node, SSDLite on the cloud). Each model loads on its first use.

HOG: OpenCV's default people detector (cv2.HOGDescriptor_getDefaultPeopleDetector).
The default detector's 64x128 window holds a person with a margin around them; reported boxes are
shrunk to the person (``shrink``) so they compare with tight ground-truth boxes.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import cv2
import numpy as np
from pydantic import Field

from common.errors import ConfigError
from common.registry import hook
from common.results import Detection, FrameResult, SegmentResult
from services.processor.application import Application, ApplicationConfig
from services.processor.applications.packaged import SsdLitePerson
from services.processor.applications.support import check_frames, clip_box, set_opencv_threads

MODELS = ("hog", "ssdlite")


class PedestrianDetectionConfig(ApplicationConfig):
    model: Literal["hog", "ssdlite"] = Field(
        "hog", description="Model used when a task does not pick one: hog (cheap) or ssdlite (DNN, accurate)."
    )
    ssdlite_threshold: float = Field(0.5, gt=0, lt=1, description="Least SSDLite person score kept.")
    scale: float = Field(1.2, gt=1.0, le=2.0, description="Image pyramid step (smaller: slower, finer).")
    win_stride: int = Field(8, ge=4, le=32, description="Window stride in pixels.")
    hit_threshold: float = Field(0.0, ge=-2, le=5, description="SVM margin a window must pass.")
    min_score: float = Field(0.5, ge=0, le=10, description="Least detection weight kept.")
    max_side: int = Field(1280, ge=128, le=4096, description="Frames are downscaled to this long side first.")
    shrink: tuple[float, float] = Field(
        (0.55, 0.75), description="Width and height share of the detection window the person fills."
    )


@hook("application", "pedestrian-detection")
class PedestrianDetection(Application):
    """Finds people (SSDLite, or HOG + linear SVM); outputs boxes labelled ``person``."""

    Config: ClassVar[type[PedestrianDetectionConfig]] = PedestrianDetectionConfig
    input_type: ClassVar[str] = "frame"
    output_type: ClassVar[str] = "bbox"
    classes: ClassVar[tuple[str, ...]] = ("person",)
    models: ClassVar[tuple[str, ...]] = MODELS

    def __init__(self, config: PedestrianDetectionConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.hog: cv2.HOGDescriptor | None = None
        self.ssdlite = SsdLitePerson(config.ssdlite_threshold)

    def load(self) -> None:
        set_opencv_threads(self.cfg)
        if self.cfg.model == "ssdlite":
            self.ssdlite.net()
            return
        self._load_hog()

    def _load_hog(self) -> None:
        hog = cv2.HOGDescriptor()
        hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())  # type: ignore[attr-defined]
        self.hog = hog

    def warmup(self, width: int, height: int) -> None:
        self.process([np.zeros((height, width, 3), np.uint8)], None)

    def process(self, frames: list[np.ndarray], upstream: SegmentResult | None) -> list[FrameResult]:
        return self.process_with(None, frames, upstream)

    def process_with(
        self, model: str | None, frames: list[np.ndarray], upstream: SegmentResult | None
    ) -> list[FrameResult]:
        check_frames(frames, self.alias)
        name = model or self.cfg.model
        if name == "ssdlite":
            return [
                FrameResult(width=int(f.shape[1]), height=int(f.shape[0]), objects=self.ssdlite.detect(f))
                for f in frames
            ]
        if name != "hog":
            raise ConfigError(f"pedestrian-detection has no model {name!r}; models: {', '.join(MODELS)}")
        if self.hog is None:
            self._load_hog()
        assert self.hog is not None
        return [self._detect(frame) for frame in frames]

    def _detect(self, frame: np.ndarray) -> FrameResult:
        assert self.hog is not None
        height, width = frame.shape[:2]
        factor = min(1.0, self.cfg.max_side / max(width, height))
        image = cv2.resize(frame, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA) if factor < 1 else frame
        stride = (self.cfg.win_stride, self.cfg.win_stride)
        rects, weights = self.hog.detectMultiScale(
            image, hitThreshold=self.cfg.hit_threshold, winStride=stride, padding=(8, 8), scale=self.cfg.scale
        )
        objects = []
        fw, fh = self.cfg.shrink
        for (x, y, w, h), weight in zip(rects, np.asarray(weights).reshape(-1), strict=False):
            if weight < self.cfg.min_score:
                continue
            cx, cy = (x + w / 2) / factor, (y + h / 2) / factor
            hw, hh = w * fw / 2 / factor, h * fh / 2 / factor
            box = clip_box((cx - hw, cy - hh, cx + hw, cy + hh), width, height)
            score = float(min(1.0, weight / 3.0))  # SVM margins of clear people are about 1-3
            objects.append(Detection(box=box, score=round(score, 4), label="person"))
        return FrameResult(width=width, height=height, objects=objects)

    def info(self) -> dict[str, Any]:
        return {
            **super().info(),
            "model": "opencv-hog-default-people" if self.cfg.model == "hog" else "ssdlite-mobilenetv2-person",
            "models": list(MODELS),
            "runtime": "opencv",
            "threads": self.cfg.threads,
        }
