"""Drop records: every task that does not reach the distributor as a result ends as one of these."""

from __future__ import annotations

import time
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from common.strict import Integer, Number
from common.task import Task


class DropReason(StrEnum):
    QUEUE_FULL = "queue_full"
    NODE_UNREACHABLE = "node_unreachable"
    JOIN_TIMEOUT = "join_timeout"
    DECODE_ERROR = "decode_error"
    SERVICE_MISSING = "service_missing"
    PROCESSOR_ERROR = "processor_error"
    TIMEOUT = "timeout"
    INVALID = "invalid"
    SHUTDOWN = "shutdown"
    OVERLOADED = "overloaded"
    BRANCH_DROPPED = "branch_dropped"
    SHED = "shed"
    """Left out by its generator before encoding: the node admitted fewer segments (back-pressure)."""


class DropRecord(BaseModel):
    """Why and where one copy of a task was given up."""

    # Bounded like the task it stands for: it is stored (SQLite integers are 64-bit) and fed back.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    source_id: str = Field(min_length=1, max_length=128)
    task_id: Integer = Field(ge=0, lt=2**63)
    task_uuid: str = Field(max_length=128)
    root_uuid: str = Field(max_length=128)
    stage: str | None = Field(None, description="Stage the copy was at.")
    node: str | None = Field(None, description="Node that gave it up.")
    reason: DropReason
    message: str = Field("", description="Human-readable detail.")
    at: Number = Field(default_factory=time.time)
    task: Task | None = Field(None, description="The task as it was when dropped, when available.")

    @classmethod
    def of(cls, task: Task, reason: DropReason, message: str = "", *, node: str | None = None) -> DropRecord:
        return cls(
            source_id=task.source_id,
            task_id=task.task_id,
            task_uuid=task.task_uuid,
            root_uuid=task.root_uuid,
            stage=task.cursor,
            node=node or task.stage.node,
            reason=reason,
            message=message,
            task=task,
        )
