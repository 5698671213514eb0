"""The policy benchmark's latest results, as the dashboard shows them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel


class PolicyBench(BaseModel):
    model_config = ConfigDict(extra="forbid")

    available: bool = Field(description="Whether a policy benchmark has written results.")
    results: Any = Field(None, description="`results.json` as written by the benchmark, when present.")
    table: str | None = Field(None, description="`table.md`, when present.")
    plots: list[str] = Field(default_factory=list, description="PNG file names, served by `/files/{name}`.")
    error: str | None = Field(None, description="Why a present file could not be read.")


class BenchResults(RootModel[Any]):
    """``results.json`` of the policy benchmark, as the benchmark wrote it (its layout is the benchmark's)."""
