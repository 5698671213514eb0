"""``drop-oldest``: a job arriving at a full queue evicts the oldest waiting one (freshest data wins)."""

from __future__ import annotations

from common.registry import hook
from services.processor.queue import FAMILY, Job, JobQueue


@hook(FAMILY, "drop-oldest")
class DropOldestQueue(JobQueue):
    """Evicts the oldest waiting job to admit the new one."""

    def _make_room(self) -> list[Job]:
        return [self._items.popleft()]
