"""The controller's settings (``DAYU_*``) and its own config (``DAYU_CONFIG``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from common.config import ServiceSettings
from common.outbox import OutboxConfig
from services.controller.admission import AdmissionConfig


class ControllerSettings(ServiceSettings):
    config: str | None = Field(None, description="DAYU_CONFIG: YAML/JSON file path or inline JSON.")


class ControllerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_in_flight: int = Field(
        256, ge=1, le=100_000, description="Tasks routed at once; beyond it a task is dropped as overloaded."
    )
    join_timeout_s: float = Field(30.0, gt=0, le=3600, description="How long forked copies wait for siblings.")
    join_capacity: int = Field(1000, ge=1, le=1_000_000, description="Joins waiting at once on this node.")
    processor_timeout_s: float = Field(60.0, gt=0, le=3600, description="Hand-off to a processor until its answer.")
    forward_timeout_s: float = Field(30.0, gt=0, le=3600, description="One upload to another node's controller.")
    forward_retries: int = Field(2, ge=0, le=10, description="Retries of an upload before a drop record.")
    drop_retries: int = Field(3, ge=0, le=10, description="Retries when recording a drop at the distributor.")
    segment_ttl_s: float = Field(
        300.0, gt=0, description="Segment files older than this are removed (the dashboard shows frames from them)."
    )
    results_carry_segment: bool = Field(
        False,
        description=(
            "Send the segment with a result that finished on another node than the cloud. Off: only the task "
            "crosses the link, the segment stays where its last stage ran (GET /files/{name}, for segment_ttl_s)."
        ),
    )
    cleanup_interval_s: float = Field(30.0, gt=0, description="How often old segment files are looked for.")
    max_payload_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="Largest segment accepted.")
    dedup_window: int = Field(4096, ge=0, le=1_000_000, description="Recent deliveries remembered to ignore repeats.")
    admission: AdmissionConfig = Field(
        default_factory=AdmissionConfig,
        description="The share of segments this node's sources are told to make (services/controller/admission.py).",
    )
    outbox: OutboxConfig = Field(
        default_factory=OutboxConfig, description="Spool of results and drop records the distributor did not take."
    )
