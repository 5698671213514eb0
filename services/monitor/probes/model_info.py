"""``model-info``: each deployed model's measured cost and this node's compute capacity.

Per processor on this node (from the topology): the model time per frame it measured at each
resolution it has processed (running means over real segments), segments processed, and the resident
memory of the processor process. For the node: cores, CPU frequency, total memory, and a measured
capacity (GFLOP/s of a fixed float32 matrix product, timed once when the probe starts, so nodes of
different strength can be compared by the same yardstick).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import psutil
from pydantic import Field

from common.errors import DayuError
from common.registry import HookConfig, hook
from services.monitor.probe import FAMILY, Probe, ProbeContext


class ModelInfoConfig(HookConfig):
    timeout: float = Field(2.0, gt=0, le=60, description="Seconds to wait for one processor's answer.")
    matrix: int = Field(256, ge=32, le=2048, description="Side of the matrices of the capacity measurement.")


def measure_gflops(side: int, repeats: int = 5) -> float:
    """Best-of-``repeats`` GFLOP/s of one ``side`` x ``side`` float32 matrix product."""
    rng = np.random.default_rng(0)
    a = rng.random((side, side), dtype=np.float32)
    b = rng.random((side, side), dtype=np.float32)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        np.dot(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * side**3 / max(best, 1e-9) / 1e9


@hook(FAMILY, "model-info")
class ModelInfoProbe(Probe):
    """Models' ms per frame by resolution and memory; the node's cores, memory and measured GFLOP/s."""

    Config = ModelInfoConfig

    def __init__(self, config: HookConfig) -> None:
        super().__init__(config)
        assert isinstance(config, ModelInfoConfig)
        self.cfg = config
        self.gflops = measure_gflops(config.matrix)

    def capacity(self) -> dict[str, Any]:
        freq = psutil.cpu_freq()
        return {
            "cores": psutil.cpu_count() or 1,
            "cpu_mhz": round(freq.max or freq.current, 1) if freq else None,
            "memory_mb": round(psutil.virtual_memory().total / 2**20),
            "gflops": round(self.gflops, 2),
        }

    async def sample(self, context: ProbeContext) -> dict[str, Any]:
        models: dict[str, Any] = {}
        if context.topology is not None and context.node in context.topology.nodes():
            processors = context.topology.node(context.node).processors

            async def ask(service: str) -> tuple[str, dict[str, Any] | None]:
                try:
                    body = await context.client.get_json(
                        processors[service].url + "/model", timeout=self.cfg.timeout, retries=0
                    )
                except DayuError:
                    return service, None
                return service, body if isinstance(body, dict) else None

            for service, body in await asyncio.gather(*(ask(s) for s in sorted(processors))):
                if body is None:
                    models[service] = {"reachable": False}
                    continue
                models[service] = {
                    "reachable": True,
                    "application": body.get("alias"),
                    "ms_per_frame": body.get("ms_per_frame", {}),
                    "processed": body.get("processed"),
                    "memory_mb": body.get("memory_mb"),
                }
        return {"extra": {"models": models, "compute": self.capacity()}}
