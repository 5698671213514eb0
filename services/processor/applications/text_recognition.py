"""``text-recognition``: PP-OCRv4 recognition (ONNX from the installed rapidocr package) on upstream boxes.

Takes ``bbox`` input: the segment's frames plus the previous stage's boxes. Each box is cropped,
resized to height 48 keeping its aspect, scaled to [-1, 1], padded to the widest crop of its batch
(crops sorted by aspect so batches waste little padding) and decoded greedily: best class per time
step, repeats collapsed, blanks dropped. The character list is the model's metadata ``character``
with the CTC blank prepended and a space appended.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import cv2
import numpy as np
from pydantic import Field

from common.errors import InvalidInput
from common.registry import hook
from common.results import Detection, FrameResult, SegmentResult
from services.processor.application import Application
from services.processor.applications.support import (
    ModelApplicationConfig,
    check_frames,
    clip_box,
    ppocr_model,
    runtime_for,
    set_opencv_threads,
)
from services.processor.runtimes.base import ModelSession

REC_MODEL = "ch_PP-OCRv4_rec_infer.onnx"
REC_HEIGHT = 48


class TextRecognitionConfig(ModelApplicationConfig):
    batch: int = Field(16, ge=1, le=256, description="Most crops per model call.")
    max_width: int = Field(960, ge=48, le=4096, description="Widest crop after resizing to height 48.")
    labels: list[str] | None = Field(None, description="Upstream labels to read (default: every box).")
    min_score: float = Field(0.0, ge=0, le=1, description="Texts read with less confidence are left out.")


def ctc_characters(metadata: dict[str, str]) -> list[str]:
    raw = metadata.get("character")
    if not raw:
        raise InvalidInput("the recognition model has no 'character' metadata")
    return ["<blank>", *raw.splitlines(), " "]


def ctc_decode(probs: np.ndarray, characters: list[str]) -> tuple[str, float]:
    """Greedy CTC: best class per step, repeats collapsed, blank (0) dropped; score = mean kept prob."""
    best = probs.argmax(axis=1)
    conf = probs.max(axis=1)
    keep = np.ones(len(best), bool)
    keep[1:] = best[1:] != best[:-1]
    keep &= best != 0
    chars = [characters[i] if i < len(characters) else "" for i in best[keep]]
    score = float(conf[keep].mean()) if keep.any() else 0.0
    return "".join(chars), score


def crop_tensor(crops: list[np.ndarray], max_width: int) -> np.ndarray:
    ratios = [c.shape[1] / max(c.shape[0], 1) for c in crops]
    width = min(max_width, max(16, math.ceil(REC_HEIGHT * max(ratios))))
    batch = np.zeros((len(crops), 3, REC_HEIGHT, width), np.float32)
    for i, (crop, ratio) in enumerate(zip(crops, ratios, strict=True)):
        w = min(width, max(1, math.ceil(REC_HEIGHT * ratio)))
        resized = cv2.resize(crop, (w, REC_HEIGHT), interpolation=cv2.INTER_LINEAR)
        batch[i, :, :, :w] = (resized.astype(np.float32) * (2.0 / 255.0) - 1.0).transpose(2, 0, 1)
    return batch


@hook("application", "text-recognition")
class TextRecognition(Application):
    """Reads the text inside each upstream box with PP-OCRv4 (CTC); outputs the boxes with ``text``."""

    Config: ClassVar[type[TextRecognitionConfig]] = TextRecognitionConfig
    input_type: ClassVar[str] = "bbox"
    output_type: ClassVar[str] = "text"
    classes: ClassVar[tuple[str, ...]] = ("text",)
    reads_text: ClassVar[bool] = True

    def __init__(self, config: TextRecognitionConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.session: ModelSession | None = None
        self.characters: list[str] = []

    def load(self) -> None:
        set_opencv_threads(self.cfg)
        runtime = runtime_for(self.cfg)
        profile = {
            "x": ((1, 3, REC_HEIGHT, 16), (8, 3, REC_HEIGHT, 320), (self.cfg.batch, 3, REC_HEIGHT, self.cfg.max_width))
        }
        self.session = runtime.load(ppocr_model(REC_MODEL), profile=profile)
        if not self.session.metadata.get("character"):
            # Runtimes other than onnxruntime do not expose ONNX metadata: read it with onnxruntime once.
            from services.processor.runtimes.base import create_runtime

            self.session.metadata = create_runtime("onnxruntime", 1).load(ppocr_model(REC_MODEL)).metadata
        self.characters = ctc_characters(self.session.metadata)

    def warmup(self, width: int, height: int) -> None:
        frame = np.full((height, width, 3), 255, np.uint8)
        box = Detection(box=(0, 0, min(width, 240), min(height, 48)), label="text")
        upstream = SegmentResult(application="warmup", frames=[FrameResult(objects=[box])])
        for _ in range(2):
            self.process([frame], upstream)

    def process(self, frames: list[np.ndarray], upstream: SegmentResult | None) -> list[FrameResult]:
        check_frames(frames, self.alias)
        if upstream is None:
            raise InvalidInput(f"{self.alias} needs the boxes of the previous stage (bbox input)")
        if self.session is None:
            self.load()
        assert self.session is not None
        crops: list[np.ndarray] = []
        owners: list[tuple[int, Detection]] = []
        results: list[FrameResult] = []
        for i, frame in enumerate(frames):
            height, width = frame.shape[:2]
            before = upstream.frames[i] if i < len(upstream.frames) else FrameResult()
            # Boxes are in the previous stage's frame pixels; scale them if it saw another size.
            sx = width / before.width if before.width else 1.0
            sy = height / before.height if before.height else 1.0
            results.append(FrameResult(frame_index=before.frame_index, width=width, height=height))
            for det in before.objects:
                if self.cfg.labels is not None and det.label not in self.cfg.labels:
                    continue
                b = det.box
                x1, y1, x2, y2 = clip_box((b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy), width, height)
                crop = frame[int(y1) : math.ceil(y2), int(x1) : math.ceil(x2)]
                if crop.shape[0] < 2 or crop.shape[1] < 2:
                    continue
                crops.append(crop)
                owners.append((i, det.model_copy(update={"box": (x1, y1, x2, y2)})))
        texts = self._read(crops)
        for (i, det), (text, score) in zip(owners, texts, strict=True):
            if score >= self.cfg.min_score:
                results[i].objects.append(det.model_copy(update={"text": text, "score": round(score, 4)}))
        return results

    def _read(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        assert self.session is not None
        out: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        order = sorted(range(len(crops)), key=lambda j: crops[j].shape[1] / max(crops[j].shape[0], 1))
        step = self.cfg.batch if self.session.batch_dynamic else 1
        for start in range(0, len(order), step):
            chosen = order[start : start + step]
            tensor = crop_tensor([crops[j] for j in chosen], self.cfg.max_width)
            (probs,) = self.session.run({self.session.input_names[0]: tensor})[:1]
            for j, row in zip(chosen, probs, strict=True):
                out[j] = ctc_decode(row, self.characters)
        return out

    def info(self) -> dict[str, Any]:
        return {**super().info(), "model": REC_MODEL, "runtime": self.cfg.runtime, "threads": self.cfg.threads}
