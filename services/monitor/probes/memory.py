"""``memory``: fraction of memory in use (0-1)."""

from __future__ import annotations

from typing import Any

import psutil

from common.registry import hook
from services.monitor.probe import FAMILY, Probe, ProbeContext


@hook(FAMILY, "memory")
class MemoryProbe(Probe):
    """psutil's virtual memory in use."""

    async def sample(self, context: ProbeContext) -> dict[str, Any]:
        return {"memory": min(1.0, max(0.0, psutil.virtual_memory().percent / 100.0))}
