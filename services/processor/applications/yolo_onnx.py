"""``yolo-onnx``: any YOLOv5 or YOLOv8 ONNX export the user points to.

Pre: letterbox to the model's input size (grey padding), BGR -> RGB, [0, 1], NCHW. Decode: YOLOv5
outputs ``[N, boxes, 5 + classes]`` (cx, cy, w, h, objectness, class scores), YOLOv8 ``[N, 4 + classes,
boxes]`` (cx, cy, w, h, class scores); ``version: auto`` tells them apart by the class count. Then a
confidence threshold, per-class NMS, and boxes mapped back through the letterbox to frame pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from common.errors import ConfigError
from common.registry import hook
from common.results import Detection, FrameResult, SegmentResult
from services.processor.application import Application
from services.processor.applications.support import (
    ModelApplicationConfig,
    check_frames,
    clip_box,
    letterbox,
    nms,
    runtime_for,
    set_opencv_threads,
)
from services.processor.runtimes.base import ModelSession


class YoloOnnxConfig(ModelApplicationConfig):
    model: Path = Field(description="Path of the ONNX export (read at load; never downloaded).")
    classes: list[str] = Field(min_length=1, description="Class names in the model's class order.")
    input_size: tuple[int, int] = Field((640, 640), description="Model input (w, h) when the model leaves it dynamic.")
    version: Literal["auto", "v5", "v8"] = Field("auto", description="Output layout.")
    confidence: float = Field(0.25, ge=0, le=1, description="Least class score kept.")
    iou: float = Field(0.45, gt=0, le=1, description="NMS IoU threshold.")
    class_agnostic: bool = Field(False, description="One NMS over all classes instead of per class.")
    max_detections: int = Field(300, ge=1, le=10000)


def decode(
    output: np.ndarray, classes: int, version: str, confidence: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (x1, y1, x2, y2 in model pixels), scores and class ids of one image's raw output."""
    if version == "auto":
        if output.shape[0] == 4 + classes and output.shape[1] != 4 + classes:
            version = "v8"
        elif output.shape[1] == 5 + classes:
            version = "v5"
        elif output.shape[1] == 4 + classes:
            version = "v8"
            output = output.T
        else:
            raise ConfigError(
                f"output shape {list(output.shape)} fits neither YOLOv5 nor YOLOv8 with {classes} classes"
            )
    if version == "v8":
        rows = output.T if output.shape[0] == 4 + classes else output
        if rows.shape[1] != 4 + classes:
            raise ConfigError(f"YOLOv8 output {list(output.shape)} does not hold {classes} classes")
        class_scores = rows[:, 4:]
    else:
        rows = output
        if rows.shape[1] != 5 + classes:
            raise ConfigError(f"YOLOv5 output {list(output.shape)} does not hold {classes} classes")
        class_scores = rows[:, 5:] * rows[:, 4:5]
    ids = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(rows)), ids]
    keep = scores >= confidence
    cx, cy, w, h = (rows[keep, k] for k in range(4))
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return boxes, scores[keep], ids[keep]


@hook("application", "yolo-onnx")
class YoloOnnx(Application):
    """Runs a user's YOLOv5/YOLOv8 ONNX detector; outputs boxes labelled with the configured class names."""

    Config: ClassVar[type[YoloOnnxConfig]] = YoloOnnxConfig
    input_type: ClassVar[str] = "frame"
    output_type: ClassVar[str] = "bbox"
    classes: ClassVar[tuple[str, ...]] = ()  # its configuration names them: scored by the labels it outputs

    def __init__(self, config: YoloOnnxConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.session: ModelSession | None = None
        self.size = config.input_size

    def load(self) -> None:
        if not self.cfg.model.is_file():
            raise ConfigError(f"yolo-onnx model {self.cfg.model} does not exist")
        set_opencv_threads(self.cfg)
        runtime = runtime_for(self.cfg)
        w, h = self.cfg.input_size
        profile = {"images": ((1, 3, h, w), (1, 3, h, w), (self.cfg.batch, 3, h, w))}
        self.session = runtime.load(self.cfg.model, profile=profile)

    def warmup(self, width: int, height: int) -> None:
        self.process([np.zeros((height, width, 3), np.uint8)], None)

    def process(self, frames: list[np.ndarray], upstream: SegmentResult | None) -> list[FrameResult]:
        check_frames(frames, self.alias)
        if self.session is None:
            self.load()
        assert self.session is not None
        step = self.cfg.batch if self.session.batch_dynamic else 1
        results: list[FrameResult] = []
        for start in range(0, len(frames), step):
            chunk = frames[start : start + step]
            batch = np.empty((len(chunk), 3, self.size[1], self.size[0]), np.float32)
            placements = []
            for i, frame in enumerate(chunk):
                boxed, scale, offset = letterbox(frame, self.size)
                batch[i] = boxed[:, :, ::-1].transpose(2, 0, 1) * np.float32(1 / 255.0)
                placements.append((scale, offset))
            (raw,) = self.session.run({self.session.input_names[0]: batch})[:1]
            for frame, out, (scale, (dx, dy)) in zip(chunk, raw, placements, strict=True):
                results.append(self._frame_result(frame, out, scale, dx, dy))
        return results

    def _frame_result(self, frame: np.ndarray, out: np.ndarray, scale: float, dx: int, dy: int) -> FrameResult:
        height, width = frame.shape[:2]
        boxes, scores, ids = decode(
            np.asarray(out, np.float32), len(self.cfg.classes), self.cfg.version, self.cfg.confidence
        )
        if self.cfg.class_agnostic:
            keep = nms(boxes, scores, self.cfg.iou)
        else:
            # Offsetting each class far apart makes one NMS pass act per class.
            shifted = boxes + ids[:, None].astype(np.float32) * 100_000.0
            keep = nms(shifted, scores, self.cfg.iou)
        objects = []
        for k in keep[: self.cfg.max_detections]:
            x1, y1, x2, y2 = (boxes[k] - (dx, dy, dx, dy)) / scale
            objects.append(
                Detection(
                    box=clip_box((x1, y1, x2, y2), width, height),
                    score=round(float(min(1.0, max(0.0, scores[k]))), 4),
                    label=self.cfg.classes[int(ids[k])],
                )
            )
        return FrameResult(width=width, height=height, objects=objects)

    def info(self) -> dict[str, Any]:
        return {
            **super().info(),
            "model": str(self.cfg.model),
            "classes": self.cfg.classes,
            "runtime": self.cfg.runtime,
            "threads": self.cfg.threads,
        }
