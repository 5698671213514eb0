"""The ``application`` hook family: the model a processor runs on a segment.

An application takes the decoded frames of one segment (BGR ``uint8`` arrays, as OpenCV gives them)
and, for stages after the first, the result of the previous stage; it returns one
:class:`FrameResult` per frame. Applications are hooks (``@hook("application", "<alias>")``), each in
one file under ``services/processor/applications/`` with its config model.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from common import families
from common.registry import REGISTRY, Hook, HookConfig
from services.processor.decode import SegmentProbe

FAMILY = families.APPLICATION


class Detection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    box: tuple[float, float, float, float] = Field(description="x1, y1, x2, y2 in pixels of the processed frame.")
    score: float = Field(1.0, ge=0, le=1)
    label: str = Field("object")
    text: str | None = Field(None, description="Recognised text, for OCR stages.")
    track_id: int | None = None


class FrameResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    frame_index: int | None = Field(None, description="Source frame index, when known.")
    width: int | None = None
    height: int | None = None
    objects: list[Detection] = Field(default_factory=list)


class SegmentResult(BaseModel):
    """What one stage produced for one segment: stored in ``Stage.result`` as a plain dict."""

    model_config = ConfigDict(extra="forbid")

    application: str
    frames: list[FrameResult] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)


class Application(Hook):
    """Base of every application hook."""

    input_type: ClassVar[str] = "frame"
    output_type: ClassVar[str] = "bbox"
    needs_frames: ClassVar[bool] = True
    """False: the application needs only the segment's frame count and size (:meth:`describe`), so the
    processor reads them from the container instead of decoding every frame."""

    def load(self) -> None:
        """Load the model (called once, off the event loop, before the first segment)."""

    def warmup(self, width: int, height: int) -> None:
        """Run the model on dummy input of a new shape so the first real call is not slow."""

    models: ClassVar[tuple[str, ...]] = ()
    """Models a task may pick through its ``meta.extra["model"]`` knob (empty: the application has one)."""

    def process(self, frames: list[np.ndarray], upstream: SegmentResult | None) -> list[FrameResult]:
        raise NotImplementedError

    def process_with(
        self, model: str | None, frames: list[np.ndarray], upstream: SegmentResult | None
    ) -> list[FrameResult]:
        """Run ``model`` (None: the configured one). Applications with one model ignore the knob."""
        return self.process(frames, upstream)

    def describe(self, probe: SegmentProbe, upstream: SegmentResult | None) -> list[FrameResult]:
        """The results of an application that does not need frames (``needs_frames = False``)."""
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        return {"alias": self.alias, "input": self.input_type, "output": self.output_type}


class ApplicationConfig(HookConfig):
    """Fields every application accepts."""

    threads: int | None = Field(
        None, ge=1, le=256, description="Intra-op threads; default: node cores / processors on the node."
    )


REGISTRY.declare_modules(
    FAMILY,
    [
        "services.processor.applications.passthrough",
        "services.processor.applications.face_detection",
        "services.processor.applications.pedestrian_detection",
        "services.processor.applications.plate_detection",
        "services.processor.applications.text_detection",
        "services.processor.applications.text_recognition",
        "services.processor.applications.yolo_onnx",
    ],
)
