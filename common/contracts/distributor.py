"""The distributor's contracts: results and drop records in; stored records and statistics out."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from common.contracts.base import Contract
from common.records import DropRecord
from common.task import Task


class JoinWait(Contract):
    arrived: str | None = Field(description="The branch that just arrived.")
    expected: list[str] = Field(description="The branches the join waits for.")


class ResultAccepted(Contract):
    """``POST /results``: stored, already stored, or waiting at a join for its other branches."""

    status: Literal["stored", "duplicate", "waiting"]
    seq: int | None = Field(None, description="The record's sequence number, when stored.")
    key: str | None = Field(None, description="The task's key (source/task id/uuid).")
    latency: float | None = Field(None, ge=0, description="Critical-path latency of the stored task, seconds.")
    join: JoinWait | None = None


MAX_RESULT_BATCH = 256
"""Results in one ``POST /results/batch`` at most."""


class ResultBatch(Contract):
    """``POST /results/batch``: finished tasks (at ``_end``), each by reference to the segment in this node's
    work dir, that a controller sends together (those that finished while its previous call was under way)."""

    tasks: list[Task] = Field(
        min_length=1, max_length=MAX_RESULT_BATCH, description="The tasks, each as ``POST /results`` takes it."
    )


class ResultsAccepted(Contract):
    """``POST /results/batch``: one answer per task, in the order sent."""

    results: list[ResultAccepted] = Field(description="Each task's answer, as ``POST /results`` gives it.")


class DropAccepted(Contract):
    """``POST /drops``: stored, or already stored."""

    status: Literal["stored", "duplicate"]
    seq: int | None = None


class ResultRecord(Contract):
    """One stored record: a finished task (``kind`` result) or a drop record (``kind`` drop)."""

    seq: int = Field(ge=1, description="Position in the store; pages continue after the last one seen.")
    kind: Literal["result", "drop"]
    source_id: str
    task_id: int
    task_uuid: str
    root_uuid: str
    latency: float | None = Field(description="Critical-path latency, seconds (results).")
    wall_latency: float | None = Field(description="finished_at - created_at, seconds (results).")
    stored_at: float
    reason: str | None = Field(None, description="Why the task was dropped (drops).")
    task: Task | None = Field(None, description="The finished task (results).")
    drop: DropRecord | None = Field(None, description="The drop record (drops).")


class ResultPage(Contract):
    """``GET /results``: records after a cursor (or the latest ones) and the cursor to ask after next."""

    records: list[ResultRecord]
    cursor: int = Field(ge=0)


class SourceStats(Contract):
    results: int = Field(ge=0)
    drops: dict[str, int] = Field(description="Drop records by reason.")
    mean_latency: float | None


class DistributorStats(Contract):
    """``GET /stats``: records per source, and what is still in memory."""

    sources: dict[str, SourceStats]
    pending_joins: int = Field(ge=0)
    feedback_queue: int = Field(ge=0, description="Feedback items waiting to be sent to the scheduler.")
