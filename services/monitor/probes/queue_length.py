"""``queue-length``: queue length of each processor on this node (asked over HTTP, from the topology)."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field

from common.contracts.processor import QueueLength
from common.errors import DayuError
from common.registry import HookConfig, hook
from services.monitor.probe import FAMILY, Probe, ProbeContext


class QueueLengthConfig(HookConfig):
    timeout: float = Field(2.0, gt=0, le=60, description="Seconds to wait for one processor's answer.")


@hook(FAMILY, "queue-length")
class QueueLengthProbe(Probe):
    """GET /queue of every processor the topology places on this node; silent ones are listed in extra."""

    Config = QueueLengthConfig

    async def sample(self, context: ProbeContext) -> dict[str, Any]:
        assert isinstance(self.config, QueueLengthConfig)
        if context.topology is None or context.node not in context.topology.nodes():
            return {"queue_lengths": {}}
        processors = context.topology.node(context.node).processors
        timeout = self.config.timeout

        async def ask(service: str) -> tuple[str, int | None]:
            try:
                url = processors[service].url + "/queue"
                queue = await context.client.get_model(url, QueueLength, timeout=timeout, retries=0)
                return service, queue.length
            except DayuError:
                return service, None

        answers = await asyncio.gather(*(ask(s) for s in sorted(processors)))
        lengths = {s: n for s, n in answers if n is not None}
        silent = [s for s, n in answers if n is None]
        return (
            {"queue_lengths": lengths, "extra": {"queue_unreachable": silent}} if silent else {"queue_lengths": lengths}
        )
