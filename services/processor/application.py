"""The ``application`` hook family: the model a processor runs on a segment.

An application takes the decoded frames of one segment (BGR ``uint8`` arrays, as OpenCV gives them)
and, for stages after the first, the result of the previous stage; it returns one
:class:`common.results.FrameResult` per frame. Applications are hooks (``@hook("application", "<alias>")``), each in
one file under ``services/processor/applications/`` with its config model.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field, JsonValue

from common import families
from common.registry import REGISTRY, Hook, HookConfig
from common.results import FrameResult, SegmentResult
from services.processor.decode import SegmentProbe

FAMILY = families.APPLICATION


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

    classes: ClassVar[tuple[str, ...]] = ()
    """The classes it detects, as the ground truth names them (empty: the labels it outputs, for an application
    whose classes its configuration decides); accuracy is scored on these classes."""

    reads_text: ClassVar[bool] = False
    """True when it reads the text in its boxes: accuracy is then the text it reads, not only its boxes."""

    def segment_result(self, frames: list[FrameResult], extra: dict[str, JsonValue]) -> SegmentResult:
        """The stage's result of one segment, with what this application declares about its output."""
        return SegmentResult(
            application=self.alias,
            classes=list(self.classes),
            reads_text=self.reads_text,
            frames=frames,
            extra=extra,
        )

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
