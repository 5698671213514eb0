"""Traffic shaping in the transport: a link of given bandwidth (and latency) per destination node.

Used by the local runtime so that virtual nodes on one machine see the link speeds of the template.
Transfers over one link queue behind each other, like packets on a real link. The shaper acts within
one process; several processes sending over the same virtual link each get the full rate (for exact
shared links, run the nodes in network namespaces with ``tc``).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from common.errors import InvalidInput


@dataclass(frozen=True)
class LinkSpec:
    bandwidth_mbps: float | None = None
    latency_ms: float = 0.0

    def __post_init__(self) -> None:
        bandwidth = self.bandwidth_mbps
        if bandwidth is not None and not (math.isfinite(bandwidth) and bandwidth > 0):
            raise InvalidInput(f"link bandwidth must be a finite number > 0 Mbit/s, got {bandwidth}")
        if not (math.isfinite(self.latency_ms) and self.latency_ms >= 0):
            raise InvalidInput(f"link latency must be a finite number >= 0 ms, got {self.latency_ms}")

    def seconds_for(self, nbytes: int) -> float:
        serialise = 0.0 if self.bandwidth_mbps is None else nbytes * 8 / (self.bandwidth_mbps * 1e6)
        return serialise + self.latency_ms / 1000.0


class TrafficShaper:
    """Delays each transfer to a node as the link to it would."""

    def __init__(
        self,
        links: Mapping[str, LinkSpec],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = asyncio.sleep,
    ) -> None:
        self._links = dict(links)
        self._busy_until: dict[str, float] = {}
        self._clock = clock
        self._sleep = sleep

    def link(self, node: str | None) -> LinkSpec | None:
        return None if node is None else self._links.get(node)

    def reserve(self, node: str | None, nbytes: int) -> float:
        """Book ``nbytes`` on the link to ``node``; returns how long the caller must wait."""
        if nbytes < 0:
            raise InvalidInput(f"cannot send a negative number of bytes ({nbytes})")
        spec = self.link(node)
        if spec is None or node is None:
            return 0.0
        now = self._clock()
        start = max(now, self._busy_until.get(node, now))
        serialise = spec.seconds_for(nbytes) - spec.latency_ms / 1000.0
        self._busy_until[node] = start + serialise
        return (start - now) + serialise + spec.latency_ms / 1000.0

    async def wait(self, node: str | None, nbytes: int) -> float:
        delay = self.reserve(node, nbytes)
        if delay > 0:
            await self._sleep(delay)  # type: ignore[misc]
        return delay
