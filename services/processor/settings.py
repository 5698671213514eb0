"""Processor settings from ``DAYU_*`` environment variables."""

from __future__ import annotations

import os

from pydantic import Field

from common.config import ServiceSettings


class ProcessorSettings(ServiceSettings):
    config: str | None = Field(None, description="Processor config: YAML/JSON file path or inline JSON.")
    service: str | None = Field(None, description="Service id this processor runs (checked against the stage).")
    processors_on_node: int | None = Field(
        None, ge=1, description="Processors sharing this node's cores; sets the default intra-op threads."
    )

    def default_threads(self, configured_processors: int | None = None) -> int:
        """The node's cores divided by the processors placed on it, at least one."""
        sharing = self.processors_on_node or configured_processors or 1
        return max(1, (os.cpu_count() or 1) // sharing)
