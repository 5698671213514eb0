"""What an application returns: a segment's result, its frames and each detection (``Stage.result``).

The processor writes one :class:`SegmentResult` per stage it runs; the next stage reads it as its upstream,
the distributor stores it with the task, ``common.accuracy`` scores it against ground truth, and the
dashboard draws its boxes. Each application plugin declares the classes it detects (as the ground truth
names them) and whether it reads text, and the result carries both, so a reader of the result needs no
table of applications.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from common.strict import Boolean, Integer, Number


class Detection(BaseModel):
    """One object found in one frame."""

    model_config = ConfigDict(extra="forbid")

    box: tuple[Number, Number, Number, Number] = Field(description="x1, y1, x2, y2 in pixels of the processed frame.")
    score: Number = Field(1.0, ge=0, le=1, description="The model's confidence.")
    label: str = Field("object", description="The class of the object, as the application names it.")
    text: str | None = Field(None, description="Recognised text, for OCR stages.")
    track_id: Integer | None = Field(None, description="Identity of the object across frames, where tracked.")


class FrameResult(BaseModel):
    """What the application found in one frame of the segment."""

    model_config = ConfigDict(extra="forbid")

    frame_index: Integer | None = Field(None, description="Source frame index, when known.")
    width: Integer | None = Field(None, description="Width of the processed frame, pixels.")
    height: Integer | None = Field(None, description="Height of the processed frame, pixels.")
    objects: list[Detection] = Field(default_factory=list, description="The detections, in no particular order.")


class SegmentResult(BaseModel):
    """What one stage produced for one segment."""

    model_config = ConfigDict(extra="forbid")

    application: str = Field(description="The application plugin that produced it.")
    classes: list[str] = Field(
        default_factory=list,
        description="The classes the application detects, as the ground truth names them (its plugin declares "
        "them); empty: the labels it outputs.",
    )
    reads_text: Boolean = Field(
        False, description="True when the application reads the text in its boxes (scored by the text it reads)."
    )
    frames: list[FrameResult] = Field(default_factory=list, description="One entry per processed frame.")
    extra: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="Figures of the run (decode time, frames read) and, on a golden segment, the label report.",
    )
