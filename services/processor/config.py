"""The processor's own config (``DAYU_CONFIG``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from common.registry import HookChoice, HookFamily

# The hook families this config chooses from (importing them declares their plugin modules).
from services.processor import application, queue, scenario  # noqa: F401


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
