"""Knob ladders the adaptive agents step along, and helpers to move a plan's knobs on them."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

from common.task import Meta

RESOLUTIONS = ["360p", "480p", "540p", "720p", "1080p"]
FPS = [1.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0]
# Lower qp = better quality and more bytes; the ladder runs from cheap to rich like the others.
QP = [45, 40, 36, 32, 28, 24]
BUFFER = [1, 2, 4, 8]


class Ladders(BaseModel):
    """The values each knob may take, cheapest first."""

    model_config = ConfigDict(extra="forbid")

    resolution: list[str] = Field(default_factory=lambda: list(RESOLUTIONS), min_length=1, description="Cheap first.")
    fps: list[float] = Field(
        default_factory=lambda: list(FPS), min_length=1, description="Frames per second, low first."
    )
    qp: list[int] = Field(default_factory=lambda: list(QP), min_length=1, description="x264 qp, coarse (high) first.")
    buffer_size: list[int] = Field(
        default_factory=lambda: list(BUFFER), min_length=1, description="Frames per segment, small first."
    )

    @model_validator(mode="after")
    def _no_duplicates(self) -> Ladders:
        for name in ("resolution", "fps", "qp", "buffer_size"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"ladder {name!r} repeats a value")
        return self

    def ladder(self, knob: str) -> Sequence[str | float | int]:
        if knob not in ("resolution", "fps", "qp", "buffer_size"):
            raise KeyError(knob)
        values: Sequence[str | float | int] = getattr(self, knob)
        return values

    def index(self, meta: Meta, knob: str) -> int:
        """Index of the meta's value on the knob's ladder (the nearest rung for numbers not on it)."""
        ladder = self.ladder(knob)
        value = getattr(meta, knob)
        if value in ladder:
            return ladder.index(value)
        if knob == "resolution" or value is None:
            return len(ladder) - 1
        return min(range(len(ladder)), key=lambda i: abs(float(ladder[i]) - float(value)))

    def set(self, meta: Meta, knob: str, index: int) -> Meta:
        """A copy of ``meta`` with the knob at rung ``index`` (clamped to the ladder)."""
        ladder = self.ladder(knob)
        index = max(0, min(len(ladder) - 1, index))
        return meta.model_copy(update={knob: ladder[index]})

    def size(self, knob: str) -> int:
        return len(self.ladder(knob))
