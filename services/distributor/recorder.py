"""What happens to a task reaching ``_end``: join when needed, finish, score, store, then feedback."""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from common.contracts.distributor import DropAccepted, JoinWait, ResultAccepted
from common.dag import JoinKey, critical_path, join_key, needs_join
from common.feedback import drop_feedback, task_feedback
from common.join import JoinStore, PendingJoin
from common.metrics import ServiceMetrics
from common.records import DropReason, DropRecord
from common.task import END, Task
from services.distributor.feedback import FeedbackSender
from services.distributor.store import ResultStore

log = logging.getLogger(__name__)
JOINED_MEMORY = 10_000  # completed joins remembered, so late retries are recognised (bounded)
Scorer = Callable[[Task], dict[str, float] | None]


def load_scorer() -> Scorer | None:
    """``common.accuracy.score_task`` when that module exists (it is optional)."""
    try:
        module = importlib.import_module("common.accuracy")
    except ImportError:
        return None
    scorer = getattr(module, "score_task", None)
    return scorer if callable(scorer) else None


class Recorder:
    def __init__(
        self, store: ResultStore, joins: JoinStore, feedback: FeedbackSender, metrics: ServiceMetrics, node: str
    ) -> None:
        self.store = store
        self.joins = joins
        self.feedback = feedback
        self.node = node
        self.scorer = load_scorer()
        self._joined: OrderedDict[JoinKey, None] = OrderedDict()
        self._stored = metrics.counter("distributor_records_total", "Records stored", ["kind"])
        self._duplicates = metrics.counter("distributor_duplicates_total", "Deliveries already stored")
        self._latency = metrics.histogram("distributor_latency_seconds", "End-to-end latency (critical path)")

    async def accept_result(self, task: Task, keep: Callable[[], object] | None = None) -> ResultAccepted:
        """Join (when the task waits at ``_end`` for others) or store ``task``. ``keep`` (blocking: it keeps the
        segment for display) runs in the worker thread that stores the task, or on its own where none does."""
        if needs_join(task):
            if keep is not None:
                await asyncio.to_thread(keep)
                keep = None
            key = join_key(task)
            if key in self._joined:  # a retried branch of a join already stored: it must not wait again
                self._duplicates.inc()
                return ResultAccepted(status="duplicate", key=task.key())
            outcome = self.joins.add(task)
            for entry, reason in outcome.dropped:
                await self._drop_join(entry, entry.drop_reason or DropReason.OVERLOADED, reason)
            if outcome.merged is None:
                return ResultAccepted(
                    status="waiting", join=JoinWait(arrived=task.came_from, expected=list(task.stage.prev))
                )
            self._joined[key] = None
            while len(self._joined) > JOINED_MEMORY:
                self._joined.popitem(last=False)
            task = outcome.merged
        return await self._store_result(task, keep)

    def finish(self, task: Task) -> tuple[float, float | None]:
        """Mark the task finished; its latency (critical path) and wall-clock finished - created."""
        task.finished_at = time.time()
        task.dag[END].done = True
        latency, _ = critical_path(task.dag)
        if self.scorer is not None:
            try:
                task.accuracy = self.scorer(task)
            except Exception:  # scoring must never cost the result itself
                log.exception("accuracy scoring failed for %s", task.key())
        return latency, task.finished_at - task.created_at

    async def _store_result(self, task: Task, keep: Callable[[], object] | None = None) -> ResultAccepted:
        latency, wall = self.finish(task)
        seq = await asyncio.to_thread(self._keep_and_add, keep, task, latency, wall)
        if seq is None:
            self._duplicates.inc()
            return ResultAccepted(status="duplicate", key=task.key())
        self._stored.labels("result").inc()
        self._latency.observe(latency)
        if self.feedback.url is not None:  # feedback off: not even built
            self.feedback.offer(task_feedback(task, latency))
        return ResultAccepted(status="stored", seq=seq, key=task.key(), latency=latency)

    def _keep_and_add(
        self, keep: Callable[[], object] | None, task: Task, latency: float, wall: float | None
    ) -> int | None:
        """One trip to a worker thread for both blocking steps of a result."""
        if keep is not None:
            keep()
        return self.store.add_result(task, latency, wall)

    async def accept_drop(self, record: DropRecord) -> DropAccepted:
        seq = await asyncio.to_thread(self.store.add_drop, record)
        for entry in self.joins.abandon(record.root_uuid):
            await self._drop_join(entry, DropReason.BRANCH_DROPPED, f"another branch was dropped: {record.reason}")
        if seq is None:
            self._duplicates.inc()
            return DropAccepted(status="duplicate")
        self._stored.labels("drop").inc()
        if self.feedback.url is not None:
            self.feedback.offer(drop_feedback(record))
        return DropAccepted(status="stored", seq=seq)

    async def _drop_join(self, entry: PendingJoin, reason: DropReason, message: str) -> None:
        first = entry.arrived[sorted(entry.arrived)[0]]
        record = DropRecord.of(first, reason, message, node=self.node)
        await self.accept_drop(record)

    async def abandon_joins(self, message: str) -> int:
        """Record every join still waiting as dropped (at shutdown: they could never complete)."""
        entries = [e for root in {p.key.root_uuid for p in self.joins.pending()} for e in self.joins.abandon(root)]
        for entry in entries:
            await self._drop_join(entry, DropReason.SHUTDOWN, message)
        return len(entries)

    async def expire_joins(self) -> int:
        expired = self.joins.expire()
        for entry, message in expired:
            await self._drop_join(entry, DropReason.JOIN_TIMEOUT, message)
        return len(expired)
