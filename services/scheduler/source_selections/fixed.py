"""``fixed`` source selection: the placement from config, else each source's first candidate."""

from __future__ import annotations

from pydantic import Field

from common.registry import HookConfig, hook
from services.scheduler.placement import SOURCE_SELECTION, SourceCandidates, SourceSelection


class FixedSelectionConfig(HookConfig):
    placement: dict[str, str] = Field(default_factory=dict, description="Source id -> node (must be a candidate).")


@hook(SOURCE_SELECTION, "fixed")
class FixedSelection(SourceSelection):
    """Configured node when it is a candidate; otherwise the first candidate."""

    Config = FixedSelectionConfig

    def select(self, sources: list[SourceCandidates]) -> dict[str, str]:
        assert isinstance(self.config, FixedSelectionConfig)
        out = {}
        for source in sources:
            wanted = self.config.placement.get(source.source_id)
            out[source.source_id] = wanted if wanted in source.candidates else source.candidates[0]
        return out
