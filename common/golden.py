"""Golden-configuration labels: what the processor's labeller answers and how a plan asks for it.

A plan asks the cloud processor to label a segment by putting candidate configurations under
``meta.extra["label"]`` of a segment made at the golden configuration; the processor scores each
candidate against the golden model's detections on that segment (:mod:`services.processor.labeller`),
writes the :class:`LabelReport` into the stage's result, and the scheduler's feedback carries it back
(``TaskFeedback.labels``). No ground truth is involved anywhere on that path.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from common.results import SegmentResult
from common.strict import Integer, Number
from common.task import Meta

LABEL_KEY = "label"
"""Key of ``Meta.extra`` under which a plan lists the candidates to label."""
MAX_CANDIDATES = 64


class Knobs(BaseModel):
    """A configuration the labeller derives and scores (the knobs a plan sets, and the model)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    resolution: str = Field(description="Named resolution, e.g. 360p.")
    fps: Number = Field(gt=0, le=240, description="Frames per second kept.")
    encoding: str = Field("mp4v", description="Codec: an OpenCV fourcc, or h264/x264 for libx264.")
    qp: Integer | None = Field(None, ge=0, le=51, description="x264 quantiser (h264 only; none: crf 23).")
    buffer_size: Integer = Field(4, ge=1, le=1000, description="Frames per segment (each segment starts a key frame).")
    model: str | None = Field(None, description="The application's model; none: its configured default.")

    @classmethod
    def of_meta(cls, meta: Meta) -> Knobs:
        """The knobs a task was made with (its ``meta``), the model from ``meta.extra`` when it names one."""
        model = meta.extra.get("model")
        return cls(
            resolution=meta.resolution,
            fps=meta.fps,
            encoding=meta.encoding,
            qp=meta.qp,
            buffer_size=meta.buffer_size,
            model=model if isinstance(model, str) else None,
        )


class CandidateScore(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    knobs: Knobs
    f1: Number = Field(ge=0, le=1, description="F1 against the golden detections at IoU 0.5, same class.")
    precision: Number = Field(ge=0, le=1)
    recall: Number = Field(ge=0, le=1)
    frames_processed: Integer = Field(ge=0, description="Frames of the segment the candidate's fps keeps.")
    bytes: Integer = Field(ge=0, description="Bytes the candidate's segments would have sent.")
    model_s: Number = Field(ge=0, description="Model time on the candidate's frames, seconds.")


class LabelReport(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    golden: Knobs
    frames: Integer = Field(ge=1, description="Frames of the golden segment.")
    golden_objects: Integer = Field(ge=0, description="Detections of the golden model over the segment.")
    golden_model_s: Number = Field(ge=0)
    candidates: list[CandidateScore] = Field(max_length=MAX_CANDIDATES)
    cpu_s: Number = Field(ge=0, description="CPU time the labeller took (its thread), seconds.")
    segment_bytes: Integer = Field(ge=0, description="Bytes of the golden segment (what profiling adds to the link).")

    @property
    def duration_s(self) -> float:
        """Seconds of video the segment covers."""
        return self.frames / self.golden.fps


def requested(extra: dict[str, Any]) -> list[Knobs] | None:
    """The candidates a plan asked to label (None: none asked, or the request is malformed)."""
    raw = extra.get(LABEL_KEY)
    if not isinstance(raw, list) or not raw or len(raw) > MAX_CANDIDATES:
        return None
    try:
        return [Knobs.model_validate(item) for item in raw]
    except ValidationError:
        return None


def report_of(result: SegmentResult | None) -> LabelReport | None:
    """The label report a stage result carries, if any."""
    if result is None:
        return None
    raw = result.extra.get(LABEL_KEY)
    if raw is None:
        return None
    try:
        return LabelReport.model_validate(raw)
    except ValidationError:
        return None
