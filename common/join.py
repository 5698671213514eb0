"""A bounded store where forked copies of a task wait for their siblings at a joining stage.

Keyed by ``(root_uuid, stage)``; completes when one copy from every predecessor arrived. Entries
that wait longer than ``timeout`` s, or are evicted because the store is full, come back from
:meth:`JoinStore.expire` / :meth:`JoinStore.add` so the caller can record them as dropped.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from common.dag import JoinKey, join_key, merge
from common.errors import InvalidInput
from common.task import Task


@dataclass
class PendingJoin:
    key: JoinKey
    expected: frozenset[str]
    arrived: dict[str, Task] = field(default_factory=dict)
    since: float = 0.0


@dataclass
class JoinOutcome:
    merged: Task | None = None
    dropped: list[tuple[PendingJoin, str]] = field(default_factory=list)


class JoinStore:
    def __init__(
        self, *, timeout: float = 30.0, capacity: int = 1000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if timeout <= 0 or capacity < 1:
            raise InvalidInput("join timeout must be > 0 and capacity >= 1")
        self.timeout = timeout
        self.capacity = capacity
        self._clock = clock
        self._pending: OrderedDict[JoinKey, PendingJoin] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, task: Task) -> JoinOutcome:
        """Add one arriving copy. Returns the merged task once every branch is in."""
        if task.came_from is None:
            raise InvalidInput("a copy arriving at a join must say which stage it came from")
        key = join_key(task)
        outcome = JoinOutcome()
        entry = self._pending.get(key)
        if entry is None:
            while len(self._pending) >= self.capacity:
                _, oldest = self._pending.popitem(last=False)
                outcome.dropped.append((oldest, f"join store full (capacity {self.capacity})"))
            entry = PendingJoin(key=key, expected=frozenset(task.stage.prev), since=self._clock())
            self._pending[key] = entry
        if task.came_from not in entry.expected:
            raise InvalidInput(
                f"stage {task.came_from!r} is not a predecessor of {task.cursor!r}",
                detail={"stage": task.cursor, "came_from": task.came_from},
            )
        # A retried delivery of the same branch replaces the earlier one: idempotent.
        entry.arrived[task.came_from] = task
        if set(entry.arrived) == entry.expected:
            del self._pending[key]
            outcome.merged = merge(entry.arrived[p] for p in sorted(entry.expected))
        return outcome

    def expire(self) -> list[tuple[PendingJoin, str]]:
        """Remove and return joins older than the timeout, with the drop reason."""
        now = self._clock()
        expired = []
        for key, entry in list(self._pending.items()):
            if now - entry.since >= self.timeout:
                del self._pending[key]
                missing = sorted(entry.expected - set(entry.arrived))
                expired.append((entry, f"join timeout after {self.timeout:g}s at {key.stage!r}, missing {missing}"))
        return expired

    def abandon(self, root_uuid: str) -> list[PendingJoin]:
        """Forget every pending join of one root (e.g. after one of its branches was dropped)."""
        gone = [k for k in self._pending if k.root_uuid == root_uuid]
        return [self._pending.pop(k) for k in gone]
