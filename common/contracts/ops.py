"""What every component serves besides its own routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.contracts.base import Contract


class Health(BaseModel):
    """``GET /health``: liveness, open to anyone; components add their own figures beside these fields."""

    model_config = ConfigDict(extra="allow")

    status: str = Field(description="ok, or starting while the component loads.")
    service: str
    node: str
    uptime_s: float = Field(ge=0)


class OutboxStatus(Contract):
    """A component's outbox (``status.outbox``): records waiting for the distributor, and what became of
    earlier ones."""

    pending: int = Field(ge=0)
    pending_bytes: int = Field(ge=0)
    max_records: int
    max_bytes: int
    spooled: int = Field(ge=0)
    delivered_later: int = Field(ge=0)
    discarded: int = Field(ge=0)
    rejected: int = Field(ge=0)
    skipped_lines: int = Field(ge=0)


class ErrorInfo(Contract):
    code: str = Field(description="Stable error code, e.g. invalid_input, not_found, overloaded, upstream_error.")
    message: str = Field(description="What was wrong, naming the field or value.")
    detail: Any = Field(None, description="Structured detail (for invalid input: a list of {field, problem}).")


class ErrorBody(Contract):
    """Every error response of every component: ``{"error": {"code", "message", "detail"}}``."""

    error: ErrorInfo
