"""``bandwidth``: available bandwidth to the cloud, by uploading a bounded probe to the cloud monitor.

The cloud monitor serves one probe at a time and reports how long this one waited for its turn, so
the figure is the transfer alone. The probe travels through the shaped client, like task traffic.
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
    size_bytes: int = Field(1024 * 1024, ge=1024, le=16 * 1024 * 1024, description="Bytes uploaded per probe.")
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

    async def sample(self, context: ProbeContext) -> dict[str, Any]:
        if context.is_cloud or context.cloud_monitor_url is None:
            return {"bandwidth_mbps": None}
        started = time.perf_counter()
        try:
            response = await context.client.request(
                "POST",
                context.cloud_monitor_url.rstrip("/") + PROBE_PATH,
                content=self._payload,
                headers={"content-type": "application/octet-stream"},
                node=context.cloud_node,
                nbytes=len(self._payload),
                timeout=self.cfg.timeout,
                retries=0,
            )
        except DayuError as exc:
            return {"bandwidth_mbps": None, "extra": {"bandwidth_error": exc.message}}
        elapsed = time.perf_counter() - started
        try:
            receipt = parse_reply(response, ProbeReceipt)
        except DayuError as exc:
            return {"bandwidth_mbps": None, "extra": {"bandwidth_error": exc.message}}
        transfer = max(1e-6, elapsed - receipt.waited_s)
        return {"bandwidth_mbps": receipt.bytes * 8 / transfer / 1e6}
