"""The Task: one segment of one stream travelling through its service DAG.

A task is plain data: its source and number, the knobs it was made with (``meta``), the DAG it follows
(every stage between the ``_start`` and ``_end`` sentinels, with the node it runs on, its result and its
timings), the stage it is at (``cursor``) and the segment file it carries (``payload``). Services move it
between nodes as JSON (plus the segment bytes when it crosses nodes); :mod:`common.wire` holds the
multipart and framed helpers and :mod:`common.dag` the graph operations. ``docs/task.schema.json`` is its
exported JSON Schema.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from common.errors import InvalidInput
from common.results import SegmentResult
from common.strict import Boolean, Integer, NonNegativeNumber, Number

START = "_start"
END = "_end"
SENTINELS = (START, END)


def new_uuid() -> str:
    return uuid.uuid4().hex


class StageTimings(BaseModel):
    """Per-stage timings in seconds, each measured on ONE clock (so clock skew never enters)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    transmit: Number | None = Field(
        None, ge=0, description="Getting the segment to this stage's node (see docs/common.md, Timings)."
    )
    queue: Number | None = Field(None, ge=0, description="Processor's clock: wait in the queue before the model.")
    service: Number | None = Field(None, ge=0, description="Processor's clock: the model call.")
    execute: Number | None = Field(
        None, ge=0, description="Controller's clock: hand-off to the processor until the result is back."
    )
    transmit_from: dict[str, NonNegativeNumber] = Field(
        default_factory=dict,
        description="At a joining stage: each predecessor's transmit into this stage (filled by the join).",
    )

    def cost(self) -> float:
        """The stage's share of the end-to-end latency: what it took to get there plus to run there."""
        return (self.transmit or 0.0) + (self.execute or 0.0)


class Stage(BaseModel):
    """One node of the service DAG, and, once run, what came out of it."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(description="Stage name, unique in the DAG.")
    service: str = Field(description="Service id run at this stage (sentinels use their own name).")
    node: str | None = Field(None, description="Node the stage runs on (set by the plan).")
    prev: list[str] = Field(default_factory=list, description="Predecessor stage names.")
    next: list[str] = Field(default_factory=list, description="Successor stage names.")
    result: SegmentResult | None = Field(None, description="The application's output for this segment.")
    scenario: dict[str, Number] | None = Field(None, description="Scenario figures (object count, size, speed).")
    timings: StageTimings = Field(default_factory=StageTimings)
    done: Boolean = Field(False, description="True once the stage has run for this task.")


class Meta(BaseModel):
    """The knobs a segment was made with."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    resolution: str = Field("720p", description="Named resolution, e.g. 1080p, 720p, 480p, 360p, 240p.")
    fps: Number = Field(30.0, gt=0, le=240, description="Frames per second kept from the source.")
    encoding: str = Field("mp4v", description="Codec of the segment (OpenCV fourcc or 'h264').")
    qp: Integer | None = Field(None, ge=0, le=51, description="Quantisation parameter when the encoder takes one.")
    buffer_size: Integer = Field(4, ge=1, le=1000, description="Frames per segment.")
    extra: dict[str, Any] = Field(default_factory=dict, description="Any further knob a policy sets.")


class RawMeta(BaseModel):
    """The source's native properties."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    resolution: str | None = None
    width: Integer | None = Field(None, ge=1)
    height: Integer | None = Field(None, ge=1)
    fps: Number | None = Field(None, gt=0)
    encoding: str | None = None


class Payload(BaseModel):
    """Where the segment is and which source frames it holds."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    file_name: str | None = Field(None, description="Segment file name, resolved under each node's work dir.")
    frame_indices: list[Integer] = Field(default_factory=list, description="Source frame indices in the segment.")
    size_bytes: Integer | None = Field(None, ge=0)
    ground_truth: list[dict[str, Any]] | None = Field(
        None, description="Per-frame ground truth of the frames held, when the source has it (same order)."
    )

    @field_validator("file_name")
    @classmethod
    def _plain_file_name(cls, value: str | None) -> str | None:
        if value is None:
            return value
        check_file_name(value)
        return value


def check_file_name(name: str) -> str:
    """Refuse names that could escape a work directory (``../x``, ``/etc/passwd``, ``a/b``)."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name or len(name) > 255:
        raise ValueError(f"file name {name!r} must be a plain name without path separators")
    return name


SOURCE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$"
"""What a source id may be where one enters (a generator's config, a query): plain ASCII with no quote,
space or control character, as it ends up in file names and headers."""


class Task(BaseModel):
    """One segment of one stream and its journey through the DAG.

    Every number must be finite: JSON has no NaN or infinity, so such a value could not travel.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    source_id: str = Field(min_length=1, max_length=128)
    task_id: Integer = Field(ge=0, description="Per-source, increasing.")
    task_uuid: str = Field(default_factory=new_uuid, description="Identity of this copy (forks get new ones).")
    parent_uuid: str | None = Field(None, description="The copy this one was forked from.")
    root_uuid: str = Field("", description="Fixed at creation, shared by all forks.")
    source_node: str = Field(min_length=1)
    meta: Meta = Field(default_factory=Meta)
    raw_meta: RawMeta = Field(default_factory=RawMeta)
    dag: dict[str, Stage]
    cursor: str = Field(START, description="The stage this copy is at.")
    came_from: str | None = Field(None, description="The stage this copy just left.")
    payload: Payload = Field(default_factory=Payload)
    created_at: Number = Field(default_factory=time.time, description="Wall clock at the generator.")
    finished_at: Number | None = None
    deployment_version: Integer = Field(0, ge=0)
    accuracy: dict[str, Number] | None = Field(None, description="Scores against ground truth, when available.")

    @model_validator(mode="after")
    def _consistent(self) -> Task:
        if not self.root_uuid:
            self.root_uuid = self.task_uuid
        if self.cursor not in self.dag:
            raise ValueError(f"cursor {self.cursor!r} is not a stage of the DAG")
        if self.came_from is not None and self.came_from not in self.dag:
            raise ValueError(f"came_from {self.came_from!r} is not a stage of the DAG")
        for name, stage in self.dag.items():
            if stage.name != name:
                raise ValueError(f"stage key {name!r} does not match its name {stage.name!r}")
            for other in (*stage.prev, *stage.next):
                if other not in self.dag:
                    raise ValueError(f"stage {name!r} links to unknown stage {other!r}")
        return self

    # -- JSON -------------------------------------------------------------------------------
    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, data: str | bytes) -> Task:
        """Parse a task, raising :class:`InvalidInput` that says what was wrong."""
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            raise InvalidInput(f"malformed task: {describe_validation_error(exc)}") from None

    @classmethod
    def from_dict(cls, data: Any) -> Task:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InvalidInput(f"malformed task: {describe_validation_error(exc)}") from None

    # -- convenience ------------------------------------------------------------------------
    @property
    def stage(self) -> Stage:
        return self.dag[self.cursor]

    def clone(self) -> Task:
        """An independent deep copy. Rebuilt from a dump by pydantic-core: three to four times cheaper than
        ``model_copy(deep=True)`` (``copy.deepcopy`` walks every object in Python), and a task is plain data,
        so nothing is lost (a stage's ``result`` is a model of plain data)."""
        return Task.model_validate(self.model_dump(round_trip=True))

    def with_cursor(self, stage: str) -> Task:
        if stage not in self.dag:
            raise InvalidInput(f"unknown stage {stage!r}", detail={"stage": stage})
        copy = self.clone()
        copy.came_from, copy.cursor = self.cursor, stage
        return copy

    def key(self) -> str:
        """Identity of this copy, for idempotent storage."""
        return f"{self.source_id}/{self.task_uuid}"


def describe_validation_error(exc: ValidationError, limit: int = 5) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)
