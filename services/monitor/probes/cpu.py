"""``cpu``: fraction of CPU in use (0-1) since the previous sample, and the node's CPU capacity.

The capacity is what the kernel lets this node use: the CPU quota of the monitor's cgroup (or of an
ancestor), which the local runtime sets from a node's ``cpu_quota`` and a container runtime from a pod's
CPU limit; without a quota, the cores the monitor may run on. ``extra.cpu_limited_by`` names the cgroup
whose quota binds (absent when none does).
"""

from __future__ import annotations

from typing import Any

import psutil

from common.cgroupfs import capacity
from common.registry import HookConfig, hook
from services.monitor.probe import FAMILY, Probe, ProbeContext


@hook(FAMILY, "cpu")
class CpuProbe(Probe):
    """psutil's system-wide CPU use between two samples, and the node's capacity in cores."""

    def __init__(self, config: HookConfig) -> None:
        super().__init__(config)
        psutil.cpu_percent(interval=None)  # the first call only sets the reference point

    async def sample(self, context: ProbeContext) -> dict[str, Any]:
        cap = capacity()
        out: dict[str, Any] = {
            "cpu": min(1.0, max(0.0, psutil.cpu_percent(interval=None) / 100.0)),
            "cpu_capacity_cores": cap.cores,
        }
        if cap.limited_by is not None:
            out["extra"] = {"cpu_limited_by": cap.limited_by}
        return out
