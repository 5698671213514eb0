"""The controller's contracts: task submissions, segment uploads, status."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from common.contracts.base import Contract
from common.contracts.ops import OutboxStatus


class TaskForm(Contract):
    """A task as ``multipart/form-data``: the task JSON and, when it crosses nodes, its segment."""

    task: str = Field(description="The task as JSON (docs/task.schema.json).")
    file: bytes | None = Field(None, description="The segment, when it is not already in the node's work dir.")


Outcome = Literal["accepted", "duplicate", "overloaded"]


class TaskAccepted(Contract):
    """``POST /tasks``: the task was taken (it now ends as a result or a drop record)."""

    accepted: str = Field(description="The task's uuid.")
    outcome: Outcome = Field(
        description="duplicate: this copy is already in flight here; overloaded: recorded as dropped."
    )
    admit: float = Field(
        1.0,
        gt=0,
        le=1,
        description="Share of its segments a source sending here should make now; it skips the rest before "
        "encoding them, each recorded as a drop `shed`. Below 1 while this node (or a node its tasks go on to) "
        "cannot keep up.",
    )
    pressure: str = Field("", max_length=500, description="Why `admit` is below 1 (empty when it is 1).")


class FileStored(Contract):
    """``PUT /files/{name}``: the segment is in the node's work dir."""

    stored: str
    size: int = Field(ge=1)


class ControllerStatus(Contract):
    """``GET /status`` of a controller."""

    node: str
    in_flight: int = Field(ge=0)
    max_in_flight: int
    joins_pending: int = Field(ge=0)
    counts: dict[str, int] = Field(description="Tasks by what happened to them; `unrecorded`: drops lost for good.")
    drops: dict[str, int] = Field(description="Drop records made here, by reason.")
    admit: float = Field(gt=0, le=1, description="The share of segments this node's sources are told to make now.")
    pressure: str = Field(description="Why `admit` is below 1.")
    congested_intervals: int = Field(ge=0, description="Admission intervals found congested since the start.")
    outbox: OutboxStatus
