"""A bounded store where forked copies of a task wait for their siblings at a joining stage.

Keyed by ``(root_uuid, stage)``; completes when one copy from every predecessor arrived. Entries
that wait longer than ``timeout`` s, or are evicted because the store is full, come back from
:meth:`JoinStore.expire` / :meth:`JoinStore.add` so the caller can record them as dropped
(:meth:`PendingJoin.drop_records` turns one into a drop record per copy that had arrived).

When a branch is dropped (:meth:`JoinStore.abandon`) the joins it would have reached can never complete:
those waiting are given up at once, and the store remembers them (bounded, for ``timeout`` s) so a sibling
that arrives later is dropped at once too, instead of waiting out the timeout.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from common.dag import JoinKey, join_key, merge
from common.errors import InvalidInput
from common.records import DropReason, DropRecord
from common.task import Task


@dataclass
class PendingJoin:
    key: JoinKey
    expected: frozenset[str]
    arrived: dict[str, Task] = field(default_factory=dict)
    since: float = 0.0
    drop_reason: DropReason | None = None  # set when the join is given up

    def missing(self) -> list[str]:
        """Predecessors whose copy has not arrived."""
        return sorted(self.expected - set(self.arrived))

    def drop_records(self, message: str, *, node: str | None = None) -> list[DropRecord]:
        """One drop record per copy that was waiting, carrying the reason the join was given up."""
        reason = self.drop_reason or DropReason.JOIN_TIMEOUT
        return [DropRecord.of(copy, reason, message, node=node) for _, copy in sorted(self.arrived.items())]


@dataclass
class JoinOutcome:
    merged: Task | None = None
    dropped: list[tuple[PendingJoin, str]] = field(default_factory=list)


class JoinStore:
    """Bounded: at most ``capacity`` joins wait at once; the oldest is evicted (and reported) to make room."""

    def __init__(
        self, *, timeout: float = 30.0, capacity: int = 1000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not timeout > 0 or capacity < 1:
            raise InvalidInput(f"join timeout must be > 0 and capacity >= 1, got {timeout} and {capacity}")
        self.timeout = timeout
        self.capacity = capacity
        self._clock = clock
        self._pending: OrderedDict[JoinKey, PendingJoin] = OrderedDict()
        # root uuid -> (when, the stages no join of that root can complete at; None: every stage)
        self._doomed: OrderedDict[str, tuple[float, frozenset[str] | None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def pending(self) -> list[PendingJoin]:
        return list(self._pending.values())

    def add(self, task: Task) -> JoinOutcome:
        """Add one arriving copy. Returns the merged task once every branch is in.

        A copy at a stage with a single predecessor has nothing to wait for and comes back as is.
        A copy that cannot belong here raises :class:`InvalidInput` and changes nothing.
        """
        if task.came_from is None:
            raise InvalidInput(
                f"a copy arriving at join stage {task.cursor!r} must say which stage it came from",
                detail={"stage": task.cursor},
            )
        expected = frozenset(task.stage.prev)
        if task.came_from not in expected:
            raise InvalidInput(
                f"stage {task.came_from!r} is not a predecessor of {task.cursor!r}",
                detail={"stage": task.cursor, "came_from": task.came_from},
            )
        if len(expected) == 1:
            return JoinOutcome(merged=task)
        key = join_key(task)
        outcome = JoinOutcome()
        if self._is_doomed(key):
            late = PendingJoin(key=key, expected=expected, arrived={task.came_from: task}, since=self._clock())
            late.drop_reason = DropReason.BRANCH_DROPPED
            outcome.dropped.append((late, f"a sibling branch was dropped before this copy reached {key.stage!r}"))
            return outcome
        entry = self._pending.get(key)
        if entry is None:
            while len(self._pending) >= self.capacity:
                _, oldest = self._pending.popitem(last=False)
                oldest.drop_reason = DropReason.OVERLOADED
                outcome.dropped.append(
                    (oldest, f"join store full (capacity {self.capacity}) at {oldest.key.stage!r}, evicted oldest")
                )
            entry = PendingJoin(key=key, expected=expected, since=self._clock())
            self._pending[key] = entry
        # A retried delivery of the same branch replaces the earlier one: idempotent.
        entry.arrived[task.came_from] = task
        if set(entry.arrived) == entry.expected:
            del self._pending[key]
            outcome.merged = merge(entry.arrived[p] for p in sorted(entry.expected))
        return outcome

    def expire(self) -> list[tuple[PendingJoin, str]]:
        """Remove and return joins older than the timeout, with the drop message."""
        now = self._clock()
        while self._doomed and now - next(iter(self._doomed.values()))[0] >= self.timeout:
            self._doomed.popitem(last=False)
        expired = []
        for key, entry in list(self._pending.items()):
            if now - entry.since >= self.timeout:
                del self._pending[key]
                entry.drop_reason = DropReason.JOIN_TIMEOUT
                message = f"join timeout after {self.timeout:g}s at {key.stage!r}, missing {entry.missing()}"
                expired.append((entry, message))
        return expired

    def abandon(self, root_uuid: str, stages: Iterable[str] | None = None) -> list[PendingJoin]:
        """Give up the joins of one root that a dropped branch would have reached: those at ``stages``
        (the stages downstream of where it was dropped), or every one when None. The waiting ones are
        returned; a copy arriving later at one of them comes back from :meth:`add` as dropped."""
        doomed = None if stages is None else frozenset(stages)
        self._remember_doomed(root_uuid, doomed)
        gone = [k for k in self._pending if k.root_uuid == root_uuid and (doomed is None or k.stage in doomed)]
        for k in gone:
            self._pending[k].drop_reason = DropReason.BRANCH_DROPPED
        return [self._pending.pop(k) for k in gone]

    def _remember_doomed(self, root_uuid: str, stages: frozenset[str] | None) -> None:
        known = self._doomed.pop(root_uuid, None)
        if known is not None:
            stages = None if stages is None or known[1] is None else stages | known[1]
        self._doomed[root_uuid] = (self._clock(), stages)
        while len(self._doomed) > self.capacity:
            self._doomed.popitem(last=False)

    def _is_doomed(self, key: JoinKey) -> bool:
        known = self._doomed.get(key.root_uuid)
        if known is None or self._clock() - known[0] >= self.timeout:
            return False
        return known[1] is None or key.stage in known[1]
