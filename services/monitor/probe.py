"""The ``probe`` hook family: one measurement of the node for the monitor's periodic report.

A probe returns fields of :class:`common.plan.ResourceReport` (``cpu``, ``memory``, ``gpu``,
``bandwidth_mbps``, ``queue_lengths``, ``extra``). Each probe is one file under ``services/monitor/probes/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common.registry import REGISTRY, Hook
from common.topology import Topology
from common.transport import ServiceClient

FAMILY = "probe"


@dataclass
class ProbeContext:
    node: str
    client: ServiceClient
    topology: Topology | None
    cloud_node: str | None
    cloud_monitor_url: str | None

    @property
    def is_cloud(self) -> bool:
        return self.cloud_node is not None and self.node == self.cloud_node


class Probe(Hook):
    """Base of every probe hook."""

    async def sample(self, context: ProbeContext) -> dict[str, Any]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the probe holds (a driver handle)."""


REGISTRY.declare_modules(
    FAMILY,
    [
        "services.monitor.probes.cpu",
        "services.monitor.probes.memory",
        "services.monitor.probes.gpu",
        "services.monitor.probes.bandwidth",
        "services.monitor.probes.queue_length",
        "services.monitor.probes.model_info",
    ],
)
