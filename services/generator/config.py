"""The generator's settings (``DAYU_*``) and its own config (``DAYU_CONFIG``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from common.config import ServiceSettings
from common.dag import DagSpec, ServiceType
from common.registry import HookChoice, HookFamily
from common.task import SOURCE_ID_PATTERN, Meta

# The hook families this config chooses from (importing them declares their plugin modules).
from services.generator import encoder, frame_filter, frame_process, source  # noqa: F401


class GeneratorSettings(ServiceSettings):
    config: str | None = Field(None, description="DAYU_CONFIG: YAML/JSON file path or inline JSON.")


class GeneratorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_id: str = Field("source-0", pattern=SOURCE_ID_PATTERN, description="Id of the stream.")
    # An installed generator gets its stream URL when the datasource is opened: it may be missing here.
    source: Annotated[HookChoice, HookFamily("source", late_params=True)] = Field(
        default_factory=lambda: HookChoice(alias="file", params={"path": "video.mp4"}),
        description="Source hook (file, http, rtsp, v4l2) and its parameters.",
    )
    frame_filter: Annotated[HookChoice, HookFamily("frame_filter")] = Field(
        default_factory=lambda: HookChoice(alias="fps"), description="Frame filter hook."
    )
    frame_process: Annotated[HookChoice, HookFamily("frame_process")] = Field(
        default_factory=lambda: HookChoice(alias="resize"), description="Per-frame transform hook."
    )
    encoder: Annotated[HookChoice, HookFamily("encoder")] = Field(
        default_factory=lambda: HookChoice(alias="opencv"),
        description="Encoder for non-H.264 codecs; H.264 plans always use the x264 encoder.",
    )
    x264: Annotated[HookChoice, HookFamily("encoder")] = Field(
        default_factory=lambda: HookChoice(alias="x264"), description="Encoder used when a plan asks for H.264."
    )
    dag: DagSpec = Field(
        default_factory=lambda: DagSpec.model_validate({"stages": [{"name": "face", "service": "face-detection"}]}),
        description="The source's service DAG.",
    )
    services: dict[str, ServiceType] = Field(
        default_factory=lambda: {"face-detection": ServiceType(input="frame", output="bbox")},
        description="Service catalogue: service id -> input/output types.",
    )
    candidates: dict[str, list[str]] = Field(
        default_factory=dict, description="Stage -> nodes it may run on (empty: any node)."
    )
    startup_plan: Meta = Field(default_factory=Meta, description="Knobs used until the scheduler answers.")
    startup_offload: dict[str, str] = Field(
        default_factory=dict, description="Stage -> node until the scheduler answers (default: the cloud)."
    )
    schedule_interval: float = Field(
        5.0, ge=0, le=3600, description="Seconds of source time between plan requests (0: every task)."
    )
    plan_timeout_s: float = Field(1.0, gt=0, le=60, description="How long a plan request may take.")
    realtime: bool = Field(True, description="Pace replayed sources to real time (live sources pace themselves).")
    submit_timeout_s: float = Field(10.0, gt=0, le=300, description="Timeout of one submission to the controller.")
    submit_retries: int = Field(3, ge=0, le=20, description="Retries of a failed submission before a drop record.")
    max_pending_segments: int = Field(
        4,
        ge=1,
        le=256,
        description="Size of the encoder queue (segments waiting to be encoded and submitted). When it is full a "
        "replayed source waits; a live source skips frames (counted as frames_skipped_backpressure).",
    )
    follow_admission: bool = Field(
        True,
        description="Make only the share of segments the controller admits (its reply's `admit`); the rest are "
        "shed before encoding, each a drop record `shed`. Off: every segment is made and the stage drops what it "
        "cannot take.",
    )
    admission_stale_after_s: float = Field(
        5.0, gt=0, le=600, description="A share heard longer ago than this no longer counts (the next segment is made)."
    )
    max_tasks: int | None = Field(
        None, ge=1, description="Stop after this many tasks in all, across openings (none: until the source ends)."
    )
    autostart: bool = Field(
        True, description="Open the source at start; false: read nothing until POST /source/open (installs)."
    )
    close_timeout_s: float = Field(
        10.0, gt=0, le=300, description="How long closing waits for the reader to stop and queued segments to be sent."
    )
