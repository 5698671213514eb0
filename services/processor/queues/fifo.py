"""``fifo``: first in, first out; a job arriving at a full queue is refused (503 overloaded)."""

from __future__ import annotations

from common.errors import Overloaded
from common.registry import hook
from services.processor.queue import FAMILY, Job, JobQueue


@hook(FAMILY, "fifo")
class FifoQueue(JobQueue):
    """Refuses new jobs while full."""

    def _make_room(self) -> list[Job]:
        raise Overloaded(f"processor queue full (capacity {self.capacity})", detail={"capacity": self.capacity})
