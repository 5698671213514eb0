"""Opening and closing the datasource: the request and the query state."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, RootModel


class OpenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[str] = Field(default_factory=list, description="Source ids; empty: every installed source.")


class QueryState(BaseModel):
    """Whether the installed sources are playing."""

    model_config = ConfigDict(extra="forbid")

    open: bool = False
    sources: list[str] = Field(default_factory=list, description="Sources opened (empty while closed).")
    since: float | None = Field(None, description="When it was last opened or closed (wall clock).")


class SourceStatus(BaseModel):
    """An installed source."""

    model_config = ConfigDict(extra="forbid")

    source_id: str
    dag: str
    nodes: list[str] = Field(description="Nodes its services may run on.")
    node: str | None = Field(None, description="Node of its generator.")
    open: bool = Field(description="Whether it is playing.")


class SourceList(RootModel[list[SourceStatus]]):
    """``GET /api/sources``."""
