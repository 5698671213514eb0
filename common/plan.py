"""The plan contract between generators and the scheduler, and the monitors' resource reports.

A generator sends a :class:`PlanRequest` (``POST /plan``) before its first task and then every schedule
interval of source time; the scheduler's policy answers a :class:`PlanResponse`: the knobs of the next
tasks and, per stage, the node it runs on, plus the current deployment. A generator that gets no answer
in time keeps its last plan. Each node's monitor posts a :class:`ResourceReport` on its own clock.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.strict import Integer, Number
from common.task import Meta, RawMeta, Stage


class PlanRequest(BaseModel):
    """What a generator sends when it asks how to make and route its next tasks."""

    model_config = ConfigDict(extra="forbid")

    source_id: str = Field(min_length=1, max_length=128)
    source_node: str = Field(min_length=1)
    raw_meta: RawMeta = Field(default_factory=RawMeta)
    dag: dict[str, Stage] = Field(description="The source's DAG (stages carry candidate nodes in `node`).")
    candidates: dict[str, list[str]] = Field(
        default_factory=dict, description="Stage -> nodes the stage may run on (empty: any node)."
    )
    edge_nodes: list[str] = Field(default_factory=list)
    source_time: Number | None = Field(None, description="Position in the stream, seconds.")


class Plan(BaseModel):
    """Knobs for the next tasks and where each stage runs."""

    model_config = ConfigDict(extra="forbid")

    meta: Meta = Field(default_factory=Meta, description="resolution, fps, encoding, qp, buffer_size, extra knobs.")
    offload: dict[str, str] = Field(default_factory=dict, description="Stage -> node.")


class PlanResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: Plan
    deployment: dict[str, list[str]] = Field(default_factory=dict, description="Service -> nodes it is deployed on.")
    deployment_version: Integer = Field(0, ge=0)
    decision_ms: Number | None = Field(None, ge=0, description="Time the policy took to decide.")


class ResourceReport(BaseModel):
    """A monitor's periodic report of one node."""

    model_config = ConfigDict(extra="forbid")

    node: str
    at: Number
    cpu: Number | None = Field(None, ge=0, le=1, description="Fraction of CPU in use, 0-1.")
    cpu_capacity_cores: Number | None = Field(
        None,
        gt=0,
        description="Cores the node may use: its cgroup CPU quota where one binds, else the cores it may run on.",
    )
    memory: Number | None = Field(None, ge=0, le=1, description="Fraction of memory in use, 0-1.")
    gpu: dict[str, Any] | None = Field(None, description="GPU figures, or null when no GPU is available.")
    bandwidth_mbps: Number | None = Field(None, ge=0, description="Available bandwidth to the cloud.")
    queue_lengths: dict[str, Integer] = Field(default_factory=dict, description="Service -> processor queue length.")
    extra: dict[str, Any] = Field(default_factory=dict)
