"""The scheduler's contracts beside the plan (:mod:`common.plan`): feedback, reports, placement, stats."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, RootModel

from common.contracts.base import Contract
from common.feedback import Feedback
from common.plan import ResourceReport


class FeedbackBody(RootModel[Feedback]):
    """``POST /feedback``: one task's feedback (:mod:`common.feedback`), sent by the distributor for every
    result and drop record. A plain task or drop record is still accepted from older senders."""


class FeedbackAccepted(Contract):
    accepted: str = Field(description="The source the feedback is about.")
    kind: Literal["task", "drop"]


class ReportAccepted(Contract):
    """``POST /resources``: the node whose report was taken."""

    accepted: str


class ResourceSnapshot(RootModel[dict[str, ResourceReport]]):
    """``GET /resources``: the latest report of each node, by node."""


class DecisionSummary(Contract):
    """Time the policy took to decide, over the recent window, in milliseconds."""

    count: int = Field(ge=0, description="Decisions since start.")
    window: int = Field(ge=0, description="Decisions the percentiles are over.")
    p50: float | None
    p95: float | None
    p99: float | None
    mean: float | None
    max: float | None


class HistorySummary(Contract):
    """A source's feedback history as the scheduler keeps it."""

    tasks: int = Field(ge=0, description="Task feedback received.")
    drops: int = Field(ge=0, description="Drop feedback received.")
    kept: int = Field(ge=0, description="Task feedback kept in the bounded history.")
    delay_mean_s: float | None = Field(description="Mean delay of the recent tasks.")
    accuracy_mean: float | None = Field(description="Mean accuracy of the recent tasks that have one.")


class SchedulerStats(Contract):
    """``GET /stats`` of the scheduler."""

    decision_ms: DecisionSummary
    plans_served: int = Field(ge=0)
    agents: dict[str, str] = Field(description="Source -> policy plugin serving it.")
    history: dict[str, HistorySummary] = Field(description="Source -> its feedback history.")
    agent_info: dict[str, dict[str, Any]] = Field(
        description="Source -> the state its policy plugin reports (plugin-specific; absent when it reports none)."
    )
    feedback: dict[str, int] = Field(description="Feedback received: tasks, drops, agents_rebuilt.")
    nodes_reporting: list[str]
    deployment_version: int = Field(ge=0)


class SourceCandidates(Contract):
    source_id: str = Field(min_length=1, max_length=128)
    candidates: list[str] = Field(min_length=1, description="Nodes the source may be placed on.")


class SourceSelectionRequest(Contract):
    """``POST /source-selection``: where each source's generator may run."""

    sources: list[SourceCandidates] = Field(max_length=10_000)


class SourcePlacement(Contract):
    placement: dict[str, str] = Field(description="Source -> node its generator runs on.")


class DeploymentRequest(Contract):
    """``POST /deployment``: which services to deploy on which nodes."""

    services: list[str] = Field(max_length=1000, description="Service ids to deploy.")
    nodes: list[str] = Field(min_length=1, max_length=10_000, description="Nodes available.")


class DeploymentAnswer(Contract):
    deployment: dict[str, list[str]] = Field(description="Service -> nodes it is deployed on.")
    deployment_version: int = Field(ge=0)
