"""What several applications share: frame checks, thread settings, model files, box geometry."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from pydantic import Field

from common.errors import DecodeError, Unavailable
from services.processor.application import ApplicationConfig
from services.processor.runtimes.base import Runtime, create_runtime

PPOCR_PACKAGE = "rapidocr_onnxruntime"


class ModelApplicationConfig(ApplicationConfig):
    """Fields of applications that run a model file through a runtime hook."""

    runtime: str = Field("onnxruntime", description="Runtime hook alias: onnxruntime, tensorrt or opencv.")
    batch: int = Field(8, ge=1, le=256, description="Most frames (or crops) per model call.")


def threads_of(config: ApplicationConfig) -> int:
    return int(config.threads or os.cpu_count() or 1)


def set_opencv_threads(config: ApplicationConfig) -> None:
    cv2.setNumThreads(threads_of(config))


def runtime_for(config: ModelApplicationConfig) -> Runtime:
    return create_runtime(config.runtime, threads_of(config))


def check_frames(frames: Sequence[np.ndarray], application: str) -> None:
    """A segment with no frame or with malformed frames is a decode error, said clearly."""
    if not frames:
        raise DecodeError(f"{application}: the segment holds no frame")
    for i, frame in enumerate(frames):
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            shape = getattr(frame, "shape", None)
            raise DecodeError(f"{application}: frame {i} is not a BGR uint8 image (shape {shape})")
        if frame.shape[0] < 8 or frame.shape[1] < 8:
            raise DecodeError(f"{application}: frame {i} is too small ({frame.shape[1]}x{frame.shape[0]})")


def ppocr_model(file_name: str) -> Path:
    """A PP-OCR model file shipped inside the installed rapidocr package (found without importing it)."""
    spec = importlib.util.find_spec(PPOCR_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable(f"the {PPOCR_PACKAGE} package (PP-OCR model files) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / file_name
    if not path.exists():
        raise Unavailable(f"model file {file_name} is missing from the installed {PPOCR_PACKAGE} package")
    return path


def clip_box(box: Sequence[float], width: int, height: int) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression (boxes as x1, y1, x2, y2)."""
    if len(boxes) == 0:
        return []
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = np.maximum(0, x2 - x1) * np.maximum(0, y2 - y1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return keep


def letterbox(image: np.ndarray, size: tuple[int, int], fill: int = 114) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Resize keeping the aspect ratio and pad to ``size`` (w, h); returns the image, scale and (dx, dy)."""
    target_w, target_h = size
    h, w = image.shape[:2]
    scale = min(target_w / w, target_h / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((target_h, target_w, 3), fill, np.uint8)
    dx, dy = (target_w - new_w) // 2, (target_h - new_h) // 2
    canvas[dy : dy + new_h, dx : dx + new_w] = resized
    return canvas, scale, (dx, dy)
