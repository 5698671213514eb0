"""Routing of tasks on one node: fork at ``_start``, run local stages, upload to other nodes, join, finish.

A task arrives with ``cursor`` at the stage to run next. :meth:`Dispatcher.route` decides where that
stage runs (the plan's node; the cloud when the service is missing there; a drop record when it is
missing everywhere) and either uploads the task to that node's controller or runs it here. Every
failure ends as a drop record at the distributor.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any

from common.contracts.controller import ControllerStatus, Outcome, TaskAccepted
from common.dag import advance, downstream, needs_join
from common.errors import DayuError, TransportError, UpstreamTimeout
from common.join import JoinStore, PendingJoin
from common.metrics import ServiceMetrics
from common.outbox import Outbox
from common.records import DropReason, DropRecord
from common.shaping import LinkSaturated
from common.task import END, START, Task
from common.topology import Topology
from common.transport import ServiceClient
from common.wire import LINK_WAIT_HEADER, framed_task, safe_path
from services.controller.admission import Admission
from services.controller.config import ControllerConfig
from services.controller.journal import InflightJournal

log = logging.getLogger(__name__)

_PROCESSOR_FAILURES = {503: DropReason.QUEUE_FULL, 422: DropReason.DECODE_ERROR, 404: DropReason.INVALID}


def _move_on(task: Task) -> list[Task]:
    """:func:`common.dag.advance` without its copy when the stage has one successor: the dispatcher owns the
    task it just parsed and reads it no more, so the task itself moves on (a copy of a whole task costs
    more than any other step of a local hop). A fork still makes one copy per branch."""
    if len(task.stage.next) == 1:
        task.came_from, task.cursor = task.cursor, task.stage.next[0]
        return [task]
    return advance(task)


class StageFailed(Exception):
    def __init__(self, reason: DropReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Dispatcher:
    def __init__(
        self,
        config: ControllerConfig,
        *,
        node: str,
        work_dir: Path,
        client: ServiceClient,
        topology: Topology | None,
        metrics: ServiceMetrics,
        outbox: Outbox,
        journal: InflightJournal | None = None,
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.journal = journal
        self.node = node
        self.work_dir = work_dir
        self.client = client
        self.topology = topology
        self.joins = JoinStore(timeout=config.join_timeout_s, capacity=config.join_capacity)
        self.admission = Admission(config.admission, node)
        self._inflight: set[asyncio.Task[None]] = set()
        self._side: set[asyncio.Task[None]] = set()  # drop records of refused tasks, outside the bound
        self._recent: OrderedDict[tuple[str, str], None] = OrderedDict()
        self.counts: Counter[str] = Counter()
        self.drops: Counter[str] = Counter()
        self._routed = metrics.counter("controller_tasks_total", "Tasks handled by outcome", ["outcome"])
        self._finished = self._routed.labels("finished")  # once per result: the child looked up once
        self._execute = metrics.histogram("controller_execute_seconds", "Hand-off to a local processor until back")
        self._transmit = metrics.histogram("controller_transmit_seconds", "Uploads to other nodes")

    # -- admission ----------------------------------------------------------------------------
    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    @property
    def cloud(self) -> str:
        return self.topology.cloud() if self.topology is not None else self.node

    def _seen(self, task: Task) -> bool:
        if self.config.dedup_window == 0:
            return False
        key = (task.task_uuid, task.cursor)
        if key in self._recent:
            return True
        self._recent[key] = None
        while len(self._recent) > self.config.dedup_window:
            self._recent.popitem(last=False)
        return False

    def accept(self, task: Task, received: bytes | None = None) -> Outcome:
        """Start routing ``task`` in the background. Returns ``accepted``, ``duplicate`` or ``overloaded``.

        ``received``: the JSON ``task`` was parsed from, unchanged since (the journal writes it as it came)."""
        if self._seen(task):
            self.counts["duplicate"] += 1
            return "duplicate"
        if len(self._inflight) >= self.config.max_in_flight:
            message = f"controller on {self.node!r} has {len(self._inflight)} tasks in flight (limit reached)"
            self.admission.overloaded()
            self._spawn(self.drop(task, DropReason.OVERLOADED, message), counted=False)
            return "overloaded"
        self.counts["accepted"] += 1
        entry = self.journal.add(task, received) if self.journal is not None else None
        self._spawn(self._guarded(task, entry))
        return "accepted"

    async def recover(self) -> int:
        """Drop records for the copies a previous process of this controller had in flight."""
        if self.journal is None:
            return 0
        left = await asyncio.to_thread(self.journal.left_over)
        for task in left:
            await self.drop(task, DropReason.SHUTDOWN, f"controller on {self.node!r} stopped with the task in flight")
        return len(left)

    def _spawn(self, coro: Any, *, counted: bool = True) -> None:
        job = asyncio.create_task(coro)
        if counted:
            self._inflight.add(job)
            job.add_done_callback(self._inflight.discard)
        else:
            self._side.add(job)
            job.add_done_callback(self._side.discard)

    async def _guarded(self, task: Task, entry: str | None = None) -> None:
        try:
            await self._routed_or_dropped(task)
        finally:
            if self.journal is not None:
                self.journal.remove(entry)

    async def _routed_or_dropped(self, task: Task) -> None:
        try:
            if task.cursor == START:
                await self._fan_out(task)
            else:
                await self.route(task)
        except asyncio.CancelledError:
            await asyncio.shield(self.drop(task, DropReason.SHUTDOWN, f"controller on {self.node!r} stopped"))
            raise
        except Exception as exc:  # a bug must not lose the task: it becomes a drop record
            log.exception("routing failed")
            await self.drop(task, DropReason.PROCESSOR_ERROR, f"routing failed on {self.node!r}: {exc}")

    # -- routing ------------------------------------------------------------------------------
    async def _fan_out(self, task: Task) -> None:
        task.stage.done = True
        task.stage.node = task.stage.node or self.node
        await self._route_all(_move_on(task))

    async def _route_all(self, copies: list[Task]) -> None:
        """Route each copy; one (no fork) is routed in this coroutine, without a task of its own to schedule."""
        if len(copies) == 1:
            await self.route(copies[0])
        else:
            await asyncio.gather(*(self.route(copy) for copy in copies))

    def choose_node(self, task: Task) -> str | None:
        """Where the current stage runs: its planned node, else the cloud, else nowhere (None)."""
        stage = task.stage
        if task.cursor == END:
            return self.cloud
        if self.topology is None:
            return self.node
        planned = stage.node or self.cloud
        if self.topology.has_processor(stage.service, planned):
            return planned
        if self.topology.has_processor(stage.service, self.cloud):
            log.info("service %s is not on %s: falling back to the cloud", stage.service, planned)
            return self.cloud
        return None

    async def route(self, task: Task) -> None:
        target = self.choose_node(task)
        if target is None:
            await self.drop(
                task,
                DropReason.SERVICE_MISSING,
                f"service {task.stage.service!r} of stage {task.cursor!r} is deployed neither on "
                f"{task.stage.node!r} nor on the cloud",
            )
            return
        if task.cursor != END:
            task.stage.node = target
        if target != self.node:
            await self._forward(task, target)
            return
        if task.cursor == END:
            await self._finish(task)
            return
        if needs_join(task):
            outcome = self.joins.add(task)
            await self._drop_joins(outcome.dropped)
            if outcome.merged is None:
                return
            task = outcome.merged
        await self._run_here(task)

    async def _run_here(self, task: Task) -> None:
        try:
            done = await self._execute_stage(task)
        except StageFailed as failure:
            if failure.reason == DropReason.NODE_UNREACHABLE and self._can_reroute(task):
                log.warning("processor for %s unreachable on %s: rerouting to the cloud", task.stage.service, self.node)
                self.counts["rerouted"] += 1
                task.stage.node = self.cloud
                await self._forward(task, self.cloud)
                return
            await self.drop(task, failure.reason, failure.message)
            return
        await self._route_all(_move_on(done))

    def _can_reroute(self, task: Task) -> bool:
        return (
            self.topology is not None
            and self.node != self.cloud
            and self.topology.has_processor(task.stage.service, self.cloud)
        )

    async def _execute_stage(self, task: Task) -> Task:
        """Hand the task to this node's processor by reference; time it until the result is back."""
        if self.topology is None:
            raise StageFailed(DropReason.SERVICE_MISSING, "no topology: cannot find a processor")
        url = self.topology.processor_url(task.stage.service, self.node) + "/process"
        self.admission.sent(task.stage.service)
        start = time.perf_counter()
        try:
            response = await self.client.request(
                "POST",
                url,
                content=task.to_json(),
                headers={"content-type": "application/json"},
                timeout=self.config.processor_timeout_s,
                retries=1,
            )
        except UpstreamTimeout as exc:
            raise StageFailed(DropReason.TIMEOUT, str(exc)) from None
        except TransportError as exc:
            if exc.status is None or exc.status in (502, 504):
                raise StageFailed(DropReason.NODE_UNREACHABLE, str(exc)) from None
            reason = _PROCESSOR_FAILURES.get(exc.status, DropReason.PROCESSOR_ERROR)
            if reason == DropReason.QUEUE_FULL:
                self.admission.refused(task.stage.service)
            raise StageFailed(reason, str(exc)) from None
        elapsed = time.perf_counter() - start
        try:
            done = Task.from_json(response.content)
        except DayuError as exc:
            raise StageFailed(DropReason.PROCESSOR_ERROR, f"processor answered an invalid task: {exc}") from None
        if done.task_uuid != task.task_uuid or done.cursor != task.cursor:
            raise StageFailed(DropReason.PROCESSOR_ERROR, "processor answered with another task or stage")
        done.stage.timings.execute = elapsed
        done.stage.done = True
        self.admission.waited(task.stage.service, done.stage.timings.queue or 0.0)
        self._execute.observe(elapsed)
        self.counts["executed"] += 1
        return done

    async def _forward(self, task: Task, target: str) -> None:
        """Hand the task with its segment to ``target``'s controller in one call (a framed body).

        The receiver sets the stage's ``transmit``: the time this side held the transfer back for the
        shaped link, plus the time the body took to arrive there. A result (at ``_end``) goes without its
        segment unless ``results_carry_segment``: processing on the edge exists to keep video off the link,
        and the segment stays here for display; its ``transmit`` is the task's own time on the link.
        """
        assert self.topology is not None
        name = task.payload.file_name
        carry = task.cursor != END or self.config.results_carry_segment
        try:
            base = self.topology.component_url("controller", target)
            data = None
            if name and carry:
                path = safe_path(self.work_dir, name)
                data = await asyncio.to_thread(path.read_bytes)
            start = time.perf_counter()
            shaper = self.client.shaper
            if data is not None:
                link_wait = await shaper.wait(target, len(data)) if shaper is not None else 0.0
                body, headers = framed_task(task, data, link_wait=link_wait)
            else:
                # Written once: the link wait (the stage's transmit) travels in a header, not in the JSON.
                body = task.to_json().encode()
                link_wait = await shaper.wait(target, len(body)) if shaper is not None else 0.0
                headers = {"content-type": "application/json", LINK_WAIT_HEADER: f"{link_wait:.6f}"}
            response = await self.client.request(
                "POST",
                f"{base}/tasks",
                content=body,
                headers=headers,
                idempotent=True,  # the receiver ignores a repeated (task, stage)
                timeout=self.config.forward_timeout_s,
                retries=self.config.forward_retries,
            )
            self._transmit.observe(time.perf_counter() - start)
            self._heard(target, response.content)
        except FileNotFoundError:
            await self.drop(task, DropReason.INVALID, f"segment {name!r} is no longer on {self.node!r}")
            return
        except LinkSaturated as exc:
            await self.drop(task, DropReason.OVERLOADED, f"cannot hand the task to {target!r}: {exc}")
            return
        except DayuError as exc:
            await self.drop(task, DropReason.NODE_UNREACHABLE, f"cannot hand the task to {target!r}: {exc}")
            return
        self.counts["forwarded"] += 1

    def _heard(self, target: str, reply: bytes) -> None:
        """The share ``target``'s controller admits: this node's sources are told when it is the lowest."""
        try:
            accepted = TaskAccepted.model_validate_json(reply)
        except ValueError:
            return  # not a reply of this version: nothing to learn from it
        self.admission.heard(target, accepted.admit, accepted.pressure)

    async def _finish(self, task: Task) -> None:
        """Give a task at ``_end`` to the distributor (on this, the cloud, node: by reference).

        An unreachable distributor does not lose the result: it waits in the outbox until delivered.
        """
        assert task.cursor == END
        task.finished_at = time.time()
        outcome = await self.outbox.deliver("results", task.to_json(), retries=self.config.drop_retries)
        if outcome in ("rejected", "discarded"):
            log.error("result %s/%d could not be recorded (%s)", task.source_id, task.task_id, outcome)
            return
        self.counts["finished"] += 1
        self._finished.inc()

    # -- drops --------------------------------------------------------------------------------
    async def drop(self, task: Task, reason: DropReason, message: str) -> None:
        self.drops[reason.value] += 1
        self._routed.labels(f"drop_{reason.value}").inc()
        log.warning("drop %s/%d at %s: %s", task.source_id, task.task_id, task.cursor, message)
        await self._send_drops([DropRecord.of(task, reason, message, node=self.node)])
        # Siblings waiting here for this copy, or arriving later, can never be joined now.
        abandoned = self.joins.abandon(task.root_uuid, downstream(task.dag, task.cursor))
        for entry in abandoned:
            await self._send_drops(entry.drop_records(f"a sibling branch was dropped: {message}", node=self.node))

    async def _drop_joins(self, entries: list[tuple[PendingJoin, str]]) -> None:
        for entry, message in entries:
            records = entry.drop_records(message, node=self.node)
            for record in records:
                self.drops[record.reason.value] += 1
            await self._send_drops(records)

    async def expire_joins(self) -> int:
        expired = self.joins.expire()
        await self._drop_joins(expired)
        return len(expired)

    async def _send_drops(self, records: list[DropRecord]) -> None:
        for record in records:
            await self.outbox.deliver("drops", record.model_dump_json(), retries=self.config.drop_retries)

    # -- lifecycle ----------------------------------------------------------------------------
    async def drain(self, timeout: float) -> None:
        """Wait (bounded) for tasks in flight; the rest are cancelled and recorded as dropped."""
        pending = list(self._inflight) + list(self._side)
        if pending:
            _, still = await asyncio.wait(pending, timeout=timeout)
            for job in still:
                job.cancel()
            await asyncio.gather(*still, return_exceptions=True)

    async def abandon_joins(self) -> None:
        """Joins still waiting at shutdown will never complete: record each waiting copy as dropped."""
        for root in {entry.key.root_uuid for entry in self.joins.pending()}:
            for entry in self.joins.abandon(root):
                entry.drop_reason = DropReason.SHUTDOWN
                await self._send_drops(entry.drop_records(f"controller on {self.node!r} stopped", node=self.node))

    def status(self) -> ControllerStatus:
        admit, pressure = self.admission.signal()
        return ControllerStatus(
            node=self.node,
            in_flight=len(self._inflight),
            max_in_flight=self.config.max_in_flight,
            joins_pending=len(self.joins),
            # Only records that will never reach the distributor; those waiting in the outbox are not lost.
            counts={**self.counts, "unrecorded": self.outbox.lost},
            drops=dict(self.drops),
            admit=admit,
            pressure=pressure,
            congested_intervals=self.admission.congested_intervals,
            outbox=self.outbox.status(),
        )
