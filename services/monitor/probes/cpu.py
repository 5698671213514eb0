"""``cpu``: fraction of CPU in use (0-1) since the previous sample."""

from __future__ import annotations

from typing import Any

import psutil

from common.registry import HookConfig, hook
from services.monitor.probe import FAMILY, Probe, ProbeContext


@hook(FAMILY, "cpu")
class CpuProbe(Probe):
    """psutil's system-wide CPU use between two samples."""

    def __init__(self, config: HookConfig) -> None:
        super().__init__(config)
        psutil.cpu_percent(interval=None)  # the first call only sets the reference point

    async def sample(self, context: ProbeContext) -> dict[str, Any]:
        return {"cpu": min(1.0, max(0.0, psutil.cpu_percent(interval=None) / 100.0))}
