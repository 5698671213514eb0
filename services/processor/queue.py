"""The ``queue`` hook family: the bounded queue in front of the processor's worker thread.

The worker blocks on a condition variable while the queue is empty (no busy wait). Policies differ
only in what happens when a job arrives at a full queue: refuse it (fifo) or evict the oldest.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from common.errors import Overloaded
from common.registry import REGISTRY, Hook, HookConfig
from common.task import Task

FAMILY = "queue"


@dataclass
class Job:
    """One task waiting for the model; ``resolve`` is called exactly once with a task or an error."""

    task: Task
    resolve: Callable[[Task | BaseException], None]
    enqueued_at: float = field(default_factory=time.perf_counter)
    cancelled: bool = False


class QueueConfig(HookConfig):
    capacity: int = Field(32, ge=1, le=100_000, description="Jobs waiting at most (the one running excluded).")


class JobQueue(Hook):
    """Thread-safe bounded queue. ``put`` never blocks; ``get`` blocks with a timeout."""

    Config = QueueConfig

    def __init__(self, config: HookConfig) -> None:
        super().__init__(config)
        assert isinstance(config, QueueConfig)
        self.capacity = config.capacity
        self._items: deque[Job] = deque()
        self._ready = threading.Condition()
        self._closed = False

    def __len__(self) -> int:
        with self._ready:
            return len(self._items)

    def put(self, job: Job) -> list[Job]:
        """Enqueue ``job``; returns jobs evicted to make room. Raises :class:`Overloaded` when refused."""
        with self._ready:
            if self._closed:
                raise Overloaded("the processor is shutting down")
            evicted = self._make_room() if len(self._items) >= self.capacity else []
            self._items.append(job)
            self._ready.notify()
            return evicted

    def _make_room(self) -> list[Job]:
        """Called with the lock held when the queue is full."""
        raise NotImplementedError

    def get(self, timeout: float) -> Job | None:
        """The oldest job, or None after ``timeout`` s or once closed."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while not self._items and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0 or not self._ready.wait(left):
                    break
            return self._items.popleft() if self._items else None

    def clear(self) -> list[Job]:
        with self._ready:
            gone = list(self._items)
            self._items.clear()
            return gone

    def close(self) -> list[Job]:
        """Refuse further jobs, wake the worker, and hand back what was still waiting."""
        with self._ready:
            self._closed = True
            gone = list(self._items)
            self._items.clear()
            self._ready.notify_all()
            return gone

    def info(self) -> dict[str, Any]:
        return {"alias": self.alias, "length": len(self), "capacity": self.capacity}


REGISTRY.declare_modules(FAMILY, ["services.processor.queues.fifo", "services.processor.queues.drop_oldest"])
