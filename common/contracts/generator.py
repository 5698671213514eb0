"""The generator's contracts: opening and closing its source, and its status."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from common.contracts.base import Contract
from common.contracts.ops import OutboxStatus
from common.plan import Plan
from common.task import RawMeta


class SourceOpen(Contract):
    """``POST /source/open``."""

    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Source hook parameters over the configured ones, for this opening only (e.g. the `url` "
        "of an RTSP camera the datasource reported when it opened the stream).",
    )


class GeneratorStatus(Contract):
    """``GET /status`` of a generator: its source, what it made of it, and the plan it follows."""

    source_id: str
    node: str
    state: str = Field(description="closed, opening, running, closing, finished or failed.")
    open: bool = Field(description="Reading now.")
    opens: int = Field(ge=0)
    next_task_id: int = Field(ge=0)
    error: str | None
    source: str = Field(description="The source plugin.")
    raw_meta: RawMeta
    frames_read: int = Field(ge=0)
    frames_kept: int = Field(ge=0)
    frames_skipped_backpressure: int = Field(ge=0)
    frames_read_shed: int = Field(
        0, ge=0, description="Frames read for shed segments, without their image where the source allows."
    )
    source_images_decoded: int = Field(
        0, ge=0, description="Images the source decoded in its current (or last) opening (built-in sources)."
    )
    source_frames_skipped: int = Field(
        0, ge=0, description="Frames the source handed over without an image in that opening (shed segments)."
    )
    tasks_created: int = Field(ge=0)
    tasks_submitted: int = Field(ge=0)
    tasks_dropped: int = Field(ge=0)
    tasks_shed: int = Field(ge=0, description="Tasks of segments skipped before encoding (drop records `shed`).")
    admit: float = Field(ge=0, le=1, description="The share of segments made now, as the controller last asked.")
    admit_reason: str = Field(description="Why the controller asked for less, when it did.")
    admission_signals: int = Field(ge=0, description="Controller replies that carried a share.")
    drops_unrecorded: int = Field(ge=0, description="Drop records that will never reach the distributor.")
    outbox: OutboxStatus
    finished: bool
    plan: Plan
    plan_age_s: float
    plans_received: int = Field(ge=0)
    plan_failures: int = Field(ge=0)
    plan_error: str | None
    deployment_version: int = Field(ge=0)
    submit_ms_p50: float | None


class SourceChanged(GeneratorStatus):
    """``POST /source/open`` and ``/source/close``: the status after the change."""

    changed: bool = Field(description="False when the source already was in the state asked for.")
