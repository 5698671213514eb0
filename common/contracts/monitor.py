"""The monitor's contracts (its report is :class:`common.plan.ResourceReport`)."""

from __future__ import annotations

from pydantic import Field

from common.contracts.base import Contract


class ProbeReceipt(Contract):
    """``POST /bandwidth/probe``: how the probe upload arrived."""

    bytes: int = Field(ge=0)
    waited_s: float = Field(ge=0, description="Time waiting for another edge's probe to finish.")
    seconds: float = Field(ge=0, description="Time receiving the body, after the wait.")
