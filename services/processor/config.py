"""The processor's own config (``DAYU_CONFIG``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from common.registry import HookChoice, HookFamily

# The hook families this config chooses from (importing them declares their plugin modules).
from services.processor import application, queue, scenario  # noqa: F401


class LabellerConfig(BaseModel):
    """The golden labeller (``POST /label``): off unless the deployment turns it on for some nodes."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(False, description="Serve POST /label on this processor.")
    nodes: list[str] = Field(
        default_factory=list, description="Nodes allowed to label (empty: any node where enabled); e.g. the cloud."
    )
    golden_model: str | None = Field(
        None, description="The golden configuration's model (the most accurate); none: the application's default."
    )
    min_period_s: float = Field(
        0.0, ge=0, le=3600, description="Least seconds between two label requests (bounds the labeller's CPU)."
    )
    max_candidates: int = Field(16, ge=1, le=64, description="Most candidate configurations in one request.")


class ProcessorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str | None = Field(None, description="Service id; overrides DAYU_SERVICE when set.")
    application: Annotated[HookChoice, HookFamily("application")] = Field(
        default_factory=lambda: HookChoice(alias="passthrough"), description="The `application` hook to run."
    )
    queue: Annotated[HookChoice, HookFamily("queue")] = Field(
        default_factory=lambda: HookChoice(alias="fifo"), description="The `queue` hook (fifo, drop-oldest)."
    )
    scenarios: list[Annotated[str, HookFamily("scenario")]] = Field(
        default_factory=lambda: ["obj-num", "obj-size", "obj-velocity"],
        description="Aliases of the `scenario` extractors run on every result.",
    )
    processors_on_node: int | None = Field(
        None, ge=1, description="Processors sharing the node (DAYU_PROCESSORS_ON_NODE wins when set)."
    )
    result_timeout: float = Field(60.0, gt=0, le=3600, description="Seconds /process waits for its result.")
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="Largest task JSON accepted by /process.")
    max_frames: int = Field(1000, ge=1, description="Frames decoded from one segment at most.")
    warmup: bool = Field(True, description="Run the model once on a dummy frame at startup.")
    labeller: LabellerConfig = Field(default_factory=LabellerConfig, description="The golden labeller.")
