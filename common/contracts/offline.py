"""The offline tools' contracts: a runtime component's code run in a process of its own, on a clip.

The control plane never imports a runtime component. Its tools that need a model's figures (``dayuctl
profile``, the policy benchmark's golden reference, awstream's offline profile) run the processor's
``python -m services.processor.offline`` and, for awstream's grid, the scheduler's ``python -m
services.scheduler.offline`` with one of these requests and read the reply they write.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from common.contracts.base import Contract
from common.golden import Knobs, LabelReport
from common.task import Meta


class OfflineRequest(Contract):
    """What every run of an application names: the application as a processor template chooses it."""

    application: dict[str, Any] = Field(description="The application hook: alias and params.")


class ProfileRequest(OfflineRequest):
    """``offline profile``: the application's model time on frames of a video at each resolution."""

    video: str = Field(min_length=1, description="The video whose first frames are measured.")
    frames: int = Field(ge=1, le=1000, description="Frames read from the video and run per measurement.")
    resolutions: list[str] = Field(min_length=1, description="Named resolutions the frames are resized to.")
    runs: int = Field(ge=1, le=100, description="Measurements per resolution (the median is kept).")


class ProfileReply(Contract):
    frames: int = Field(ge=1, description="Frames read from the video (fewer than asked when it is shorter).")
    memory_mb: float = Field(ge=0, description="Resident memory the loaded model added, MiB.")
    ms_per_frame: dict[str, float] = Field(description="Resolution -> model time per frame, milliseconds.")


class GoldenRequest(OfflineRequest):
    """``offline golden``: the application's detections on every frame of a clip, at the clip's size."""

    model: str | None = Field(description="The model to run (none: the application's default).")
    clip: str = Field(min_length=1, description="The clip, read frame by frame.")
    batch: int = Field(ge=1, le=1000, description="Frames per model call (bounds the memory held).")


class GoldenReply(Contract):
    entries: list[dict[str, Any]] = Field(
        description="Per clip frame, its detections in ground truth's shape ({'objects': [{'class', 'box'}]})."
    )


class LabelRequest(OfflineRequest):
    """``offline label``: the golden labeller's reports on golden segments spread over a clip."""

    clip: str = Field(min_length=1, description="The training clip.")
    golden: Knobs = Field(description="The golden configuration the segments are made at.")
    candidates: list[Knobs] = Field(min_length=1, description="The configurations each segment scores.")
    segments: int = Field(ge=1, le=10_000, description="Golden segments labelled, spread over the clip.")


class LabelReply(Contract):
    reports: list[LabelReport] = Field(description="One report per golden segment and batch of candidates.")


class AwstreamGridRequest(Contract):
    """``offline awstream-grid``: the golden knobs and candidate grid of an awstream agent."""

    params: dict[str, Any] = Field(description="The agent's parameters (its profile is not read).")
    startup: Meta = Field(description="The startup plan's knobs the configurations start from.")


class AwstreamGrid(Contract):
    golden: Meta = Field(description="The agent's golden configuration.")
    candidates: list[Knobs] = Field(description="Every configuration of the agent's grid.")
