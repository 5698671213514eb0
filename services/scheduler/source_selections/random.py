"""``random`` source selection: a uniformly drawn candidate per source (seedable, for replays)."""

from __future__ import annotations

import random

from pydantic import Field

from common.registry import HookConfig, hook
from services.scheduler.placement import SOURCE_SELECTION, SourceCandidates, SourceSelection


class RandomSelectionConfig(HookConfig):
    seed: int | None = Field(None, description="Seed of the draw; set it to replay the same placement.")


@hook(SOURCE_SELECTION, "random")
class RandomSelection(SourceSelection):
    """Each source on a random one of its candidates."""

    Config = RandomSelectionConfig

    def __init__(self, config: HookConfig) -> None:
        super().__init__(config)
        assert isinstance(config, RandomSelectionConfig)
        self._rng = random.Random(config.seed)

    def select(self, sources: list[SourceCandidates]) -> dict[str, str]:
        return {s.source_id: self._rng.choice(s.candidates) for s in sources}
