"""Feedback from the distributor to the scheduler: what a policy learns from one finished or dropped task.

One flat, JSON-ready record per task (no segment, no results), so it is cheap to send, to queue on disk
while the scheduler is away, and to keep in a bounded per-source history on the scheduler.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from common.dag import critical_path
from common.golden import LabelReport, report_of
from common.records import DropRecord
from common.strict import Integer, Number
from common.task import SENTINELS, Meta, RawMeta, Task

CONTENT_KEYS = ("obj_num", "obj_size", "obj_velocity")


class StageFeedback(BaseModel):
    """Where one stage ran and what it cost, in seconds (each figure from one clock)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    stage: str
    service: str
    node: str | None = Field(None, description="Node the stage ran on.")
    transmit: Number | None = Field(None, ge=0, description="Getting the segment to the stage's node.")
    queue: Number | None = Field(None, ge=0, description="Wait in the processor's queue.")
    service_time: Number | None = Field(None, ge=0, description="The model call.")
    execute: Number | None = Field(None, ge=0, description="Controller hand-off until the result was back.")


class ContentFeatures(BaseModel):
    """What the processors' scenario hooks saw in the segment (mean over the stages that report it)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    obj_num: Number | None = Field(None, ge=0, description="Objects per frame.")
    obj_size: Number | None = Field(None, ge=0, description="Mean object area as a fraction of the frame.")
    obj_velocity: Number | None = Field(None, ge=0, description="Object speed in frame diagonals per second.")


class TaskFeedback(BaseModel):
    """A task that reached the distributor with its results."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    kind: Literal["task"] = "task"
    source_id: str = Field(min_length=1, max_length=128)
    task_id: Integer = Field(ge=0)
    source_node: str = Field(min_length=1)
    created_at: Number = Field(description="Wall clock at the generator.")
    finished_at: Number | None = Field(None, description="Wall clock at the distributor.")
    delay: Number = Field(ge=0, description="End-to-end latency of the segment (critical path), seconds.")
    meta: Meta = Field(description="The configuration the segment was actually made with.")
    raw_meta: RawMeta = Field(default_factory=RawMeta)
    segment_bytes: Integer | None = Field(None, ge=0, description="Size of the encoded segment.")
    stages: list[StageFeedback] = Field(default_factory=list, max_length=256)
    content: ContentFeatures = Field(default_factory=ContentFeatures)
    accuracy: Number | None = Field(None, ge=0, le=1, description="Headline score against ground truth, if any.")
    labels: LabelReport | None = Field(
        None, description="Golden-configuration labels of candidate configurations, when the plan asked for them."
    )
    deployment_version: Integer = Field(0, ge=0)

    @property
    def frames(self) -> int:
        return self.meta.buffer_size

    def offload(self) -> dict[str, str]:
        return {s.stage: s.node for s in self.stages if s.node is not None}


class DropFeedback(BaseModel):
    """A task given up on the way, with the configuration it was made with when known."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    kind: Literal["drop"] = "drop"
    source_id: str = Field(min_length=1, max_length=128)
    task_id: Integer = Field(ge=0)
    reason: str
    stage: str | None = None
    node: str | None = None
    at: Number = Field(default_factory=time.time)
    source_node: str | None = None
    meta: Meta | None = None
    segment_bytes: Integer | None = Field(None, ge=0)


Feedback = Annotated[TaskFeedback | DropFeedback, Field(discriminator="kind")]
FEEDBACK: TypeAdapter[TaskFeedback | DropFeedback] = TypeAdapter(Feedback)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def content_of(task: Task) -> ContentFeatures:
    found: dict[str, list[float]] = {key: [] for key in CONTENT_KEYS}
    for name, stage in task.dag.items():
        if name in SENTINELS or not stage.scenario:
            continue
        for key in CONTENT_KEYS:
            value = stage.scenario.get(key)
            if value is not None and value >= 0:
                found[key].append(float(value))
    return ContentFeatures(**{key: _mean(values) for key, values in found.items()})


def task_feedback(task: Task, delay: float | None = None) -> TaskFeedback:
    """The feedback of a finished task; ``delay`` defaults to its critical path."""
    if delay is None:
        delay, _ = critical_path(task.dag)
    stages = [
        StageFeedback(
            stage=name,
            service=stage.service,
            node=stage.node,
            transmit=stage.timings.transmit,
            queue=stage.timings.queue,
            service_time=stage.timings.service,
            execute=stage.timings.execute,
        )
        for name, stage in task.dag.items()
        if name not in SENTINELS or name == SENTINELS[1]
    ]
    accuracy = (task.accuracy or {}).get("accuracy")
    labels = next(
        (r for name, stage in task.dag.items() if name not in SENTINELS and (r := report_of(stage.result))), None
    )
    return TaskFeedback(
        source_id=task.source_id,
        task_id=task.task_id,
        source_node=task.source_node,
        created_at=task.created_at,
        finished_at=task.finished_at,
        delay=max(0.0, delay),
        meta=task.meta,
        raw_meta=task.raw_meta,
        segment_bytes=task.payload.size_bytes,
        stages=stages,
        content=content_of(task),
        accuracy=None if accuracy is None else min(1.0, max(0.0, accuracy)),
        labels=labels,
        deployment_version=task.deployment_version,
    )


def drop_feedback(record: DropRecord) -> DropFeedback:
    task = record.task
    return DropFeedback(
        source_id=record.source_id,
        task_id=record.task_id,
        reason=str(record.reason),
        stage=record.stage,
        node=record.node,
        at=record.at,
        source_node=task.source_node if task is not None else None,
        meta=task.meta if task is not None else None,
        segment_bytes=task.payload.size_bytes if task is not None else None,
    )
