"""The monitor's own config (``DAYU_CONFIG``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from common.registry import HookChoice, HookFamily

# The hook family this config chooses from (importing it declares its plugin modules).
from services.monitor import probe  # noqa: F401


class MonitorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interval: float = Field(2.0, gt=0, le=3600, description="Seconds between two reports to the scheduler.")
    probes: list[Annotated[HookChoice, HookFamily("probe")]] = Field(
        default_factory=lambda: [HookChoice(alias=a) for a in ("cpu", "memory", "gpu", "bandwidth", "queue-length")],
        description="`probe` hooks to run: aliases, or {alias, params}.",
    )
    probe_timeout: float = Field(10.0, gt=0, le=600, description="Seconds one probe may take before it is skipped.")
    scheduler_url: str | None = Field(None, description="Where reports go; default: the topology's scheduler.")
    cloud_monitor_url: str | None = Field(None, description="Cloud monitor for bandwidth probes; default: topology.")
    report_timeout: float = Field(5.0, gt=0, le=120, description="Seconds per report delivery attempt.")
    report_retries: int = Field(1, ge=0, le=10, description="Retries of one report delivery.")
    max_probe_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="Largest bandwidth probe this monitor accepts.")
    probe_slot_wait: float = Field(10.0, gt=0, le=120, description="Seconds a probe waits for its turn here.")

    @field_validator("probes", mode="before")
    @classmethod
    def _aliases(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"alias": item} if isinstance(item, str) else item for item in value]
        return value
