"""``bandwidth``: available bandwidth to the cloud, measured by timing a bounded upload to the cloud monitor.

The figure is what the transfer achieved, not what a link is configured to: on namespace links the kernel
shapes it, in process mode it queues with every other sender of the node on the shared link booking, and
a link following a trace shows each step. The cloud monitor serves one probe at a time and reports how
long this one waited for its turn, so the figure is the transfer alone. The probe is sized from the last
measurement to take about ``target_s`` (between ``min_bytes`` and ``size_bytes``), so on a slow link it
does not crowd out the traffic it measures.

The probe's own uploads share the link with the tasks, so a policy's bytes on the link include them:
every report carries ``bandwidth_probe_bytes_total`` and ``bandwidth_probes``, counted since the monitor
started over every probe sent (a failed one too: its bytes were booked on the link or went part way), so
a benchmark adds the difference between two reports to the bytes the tasks put on the link.
"""

from __future__ import annotations

import os
import time
from typing import Any

from pydantic import Field

from common.contracts.monitor import ProbeReceipt
from common.errors import DayuError
from common.registry import HookConfig, hook
from common.transport import parse_reply
from services.monitor.probe import FAMILY, Probe, ProbeContext

PROBE_PATH = "/bandwidth/probe"


class BandwidthConfig(HookConfig):
    size_bytes: int = Field(1024 * 1024, ge=1024, le=16 * 1024 * 1024, description="Largest probe upload, in bytes.")
    min_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024, description="Smallest probe upload, in bytes.")
    target_s: float = Field(0.25, gt=0, le=10, description="Seconds a probe should last at the last measured rate.")
    timeout: float = Field(10.0, gt=0, le=120, description="Seconds one probe may take.")


@hook(FAMILY, "bandwidth")
class BandwidthProbe(Probe):
    """Mbit/s of one bounded upload to the cloud monitor; null on the cloud itself or when it fails."""

    Config = BandwidthConfig

    def __init__(self, config: HookConfig) -> None:
        super().__init__(config)
        assert isinstance(config, BandwidthConfig)
        self.cfg = config
        self._payload = os.urandom(config.size_bytes)  # random, so no link-level compression flatters it
        self._size = config.size_bytes
        self._sent_bytes = 0
        self._sent = 0

    def _counts(self) -> dict[str, int]:
        return {"bandwidth_probe_bytes_total": self._sent_bytes, "bandwidth_probes": self._sent}

    def _next_size(self, mbps: float) -> int:
        wanted = int(mbps * 1e6 / 8 * self.cfg.target_s)
        return max(min(self.cfg.min_bytes, self.cfg.size_bytes), min(self.cfg.size_bytes, wanted))

    async def sample(self, context: ProbeContext) -> dict[str, Any]:
        if context.is_cloud or context.cloud_monitor_url is None:
            return {"bandwidth_mbps": None}
        payload = self._payload[: self._size]
        self._sent_bytes += len(payload)
        self._sent += 1
        started = time.perf_counter()
        try:
            response = await context.client.request(
                "POST",
                context.cloud_monitor_url.rstrip("/") + PROBE_PATH,
                content=payload,
                headers={"content-type": "application/octet-stream"},
                node=context.cloud_node,
                nbytes=len(payload),
                timeout=self.cfg.timeout,
                retries=0,
            )
        except DayuError as exc:
            return {"bandwidth_mbps": None, "extra": {"bandwidth_error": exc.message, **self._counts()}}
        elapsed = time.perf_counter() - started
        try:
            receipt = parse_reply(response, ProbeReceipt)
        except DayuError as exc:
            return {"bandwidth_mbps": None, "extra": {"bandwidth_error": exc.message, **self._counts()}}
        transfer = max(1e-6, elapsed - receipt.waited_s)
        mbps = receipt.bytes * 8 / transfer / 1e6
        self._size = self._next_size(mbps)
        extra = {"bandwidth_probe_bytes": len(payload), "bandwidth_probe_s": transfer, **self._counts()}
        return {"bandwidth_mbps": mbps, "extra": extra}
