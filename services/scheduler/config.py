"""The scheduler's own config (``DAYU_CONFIG``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from common.plan import Plan
from common.registry import HookChoice, HookFamily

# The hook families this config chooses from (importing them declares their plugin modules).
from services.scheduler import agent, placement  # noqa: F401


class SchedulerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: Annotated[HookChoice, HookFamily("agent")] = Field(
        default_factory=lambda: HookChoice(alias="fixed"), description="The `agent` hook: one instance per source."
    )
    startup: Plan = Field(default_factory=Plan, description="The plan every source starts with.")
    source_selection: Annotated[HookChoice, HookFamily("source_selection")] = Field(
        default_factory=lambda: HookChoice(alias="fixed"), description="The `source_selection` hook."
    )
    deployment: Annotated[HookChoice, HookFamily("deployment")] = Field(
        default_factory=lambda: HookChoice(alias="full"), description="The `deployment` hook."
    )
    redeployment: Annotated[HookChoice, HookFamily("redeployment")] = Field(
        default_factory=lambda: HookChoice(alias="none"), description="The `redeployment` hook."
    )
    redeploy_interval_s: float = Field(0.0, ge=0, description="Seconds between redeployments; 0: never.")
    cloud_node: str | None = Field(None, description="Name of the cloud node; default: the topology's cloud.")
    max_sources: int = Field(10_000, ge=1, description="Sources (agents) served at most.")
    history: int = Field(256, ge=8, le=100_000, description="Feedback records kept per source for the agent.")
    decision_window: int = Field(10_000, ge=10, description="Recent decisions kept for the percentiles.")
