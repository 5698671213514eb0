"""The processor's contracts: its queue and the model it serves (``POST /process`` takes and gives a Task)."""

from __future__ import annotations

from pydantic import Field

from common.contracts.base import Contract


class QueueLength(Contract):
    """``GET /queue``: tasks waiting, read by the node's monitor."""

    length: int = Field(ge=0)
    capacity: int = Field(ge=1)


class QueueCleared(Contract):
    """``POST /queue/clear``: tasks taken off the queue (each answered with an error to its caller)."""

    cleared: int = Field(ge=0)


class QueueInfo(Contract):
    alias: str = Field(description="The queue plugin.")
    length: int = Field(ge=0)
    capacity: int = Field(ge=1)


class ModelInfo(Contract):
    """``GET /model``: the application this processor runs and how."""

    alias: str = Field(description="The application plugin.")
    input: str = Field(description="What the application reads (frames, or the previous stage's result).")
    output: str = Field(description="What it produces.")
    service: str | None = Field(description="The service this processor serves; None: any.")
    threads: int | None = Field(description="Intra-op threads of the model.")
    runtime: str | None = Field(None, description="Inference runtime (opencv, onnxruntime, ...).")
    model: str | None = Field(None, description="Model file or name.")
    cascade: str | None = Field(None, description="Cascade file of an OpenCV detector.")
    models: list[str] | None = Field(
        None, description="Models a task may pick with its meta.extra['model'] knob (the application's choices)."
    )
    classes: list[str] | None = Field(None, description="Class names of a detector.")
    queue: QueueInfo
    scenarios: list[str] = Field(description="Scenario plugins run after the model.")
    processed: int = Field(ge=0)
    ms_per_frame: dict[str, float] = Field(
        default_factory=dict, description="Measured model time per frame by the segments' resolution (running mean)."
    )
    memory_mb: float | None = Field(None, ge=0, description="Resident memory of the processor process, MiB.")
    labeller: dict[str, float | int] | None = Field(
        None,
        description="The golden labeller where this node may label: period_s, served, refused, cpu_s, bytes.",
    )
