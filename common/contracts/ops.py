"""What every component serves besides its own routes."""

from __future__ import annotations

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
