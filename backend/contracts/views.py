"""What the dashboard draws: a result record as view variables, system snapshots, per-source view configs."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import UploadFile
from pydantic import BaseModel, ConfigDict, Field

from backend.templates import VisualizationSpec
from common.task import Meta, StageTimings


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StageView(_Out):
    service: str
    next: list[str]
    node: str | None = None


class ResultView(_Out):
    """One distributor record (a result or a drop) as the variables the result views draw."""

    seq: int | None = Field(None, description="The distributor's sequence number (the polling cursor).")
    kind: Literal["result", "drop"] = "result"
    source_id: str | None = None
    task_id: int | None = None
    reason: str | None = Field(None, description="Why it was dropped (drops only).")
    deployment: dict[str, list[str]] = Field(default_factory=dict, description="Service -> nodes when it was shown.")
    delay: float | None = Field(None, description="End-to-end latency, seconds (critical path).")
    frame_delay: float | None = Field(None, description="`delay` per frame of the segment.")
    critical_path: list[str] = Field(default_factory=list)
    stage_delay: dict[str, float] = Field(default_factory=dict, description="Stage -> seconds it cost.")
    stage_timings: dict[str, StageTimings] = Field(default_factory=dict)
    object_count: float | None = Field(None, description="Objects per frame found by the first detecting stage.")
    objects: list[dict[str, Any]] = Field(
        default_factory=list, description="Boxes of that stage (box, label, score, text, frame_index); at most 200."
    )
    frame_index: int | None = Field(
        None, description="Source index of the segment's first frame: the frame `image` shows, with its boxes."
    )
    texts: list[str] = Field(default_factory=list, description="Recognised texts; at most 100.")
    accuracy: dict[str, float] | None = Field(
        None, description="Accuracy scores, when available; what they are measured against is `accuracy_reference`."
    )
    accuracy_reference: Literal["ground_truth", "golden"] | None = Field(
        None,
        description="What `accuracy` is measured against: the source's ground truth, or the golden configuration "
        "(the richest knobs through the most accurate model on the same frames) for a source without ground truth.",
    )
    offloading: dict[str, str | None] = Field(default_factory=dict, description="Stage -> node it ran on.")
    meta: Meta | None = Field(None, description="Knobs the segment was made with.")
    segment: str | None = Field(
        None, description="Segment file name: at the distributor, or on the node that ran the last stage."
    )
    image: str | None = Field(None, description="URL of the annotated first frame (JPEG).")
    created_at: float | None = None
    finished_at: float | None = None
    dag: dict[str, StageView] = Field(default_factory=dict)


class ResultViewPage(_Out):
    records: list[ResultView]
    cursor: int = Field(description="Pass as `after` to get the records that follow.")


class SystemSnapshot(_Out):
    """System view variables at one moment: per node, the latest resource report."""

    at: float = Field(description="Wall clock, seconds.")
    cpu: dict[str, float | None] = Field(description="Node -> fraction of CPU in use.")
    memory: dict[str, float | None] = Field(description="Node -> fraction of memory in use.")
    bandwidth: dict[str, float | None] = Field(description="Node -> available bandwidth to the cloud, Mbit/s.")
    queue_length: dict[str, dict[str, int]] = Field(description="Node -> service -> processor queue length.")
    scheduling_overhead: float | None = Field(None, description="Median time of a scheduling decision, ms.")


class SystemHistory(_Out):
    snapshots: list[SystemSnapshot]


class SourceViews(_Out):
    source_id: str
    custom: bool = Field(description="Uploaded views; false: the catalog's defaults.")
    views: list[VisualizationSpec]


class ViewsUpload(_Out):
    """``PUT /api/visualizations/{source_id}``: the views as a YAML file (``views: [...]``), multipart form data."""

    file: UploadFile = Field(description="YAML with `views`.")
