"""Feedback to the scheduler, sent after the record is stored: a bounded queue, bounded retries.

What travels is :mod:`common.feedback` (delays, per-stage timings and nodes, knobs used, bytes, content,
accuracy), not the task with its results. A slow or dead scheduler never loses a record (it is already
in SQLite) and never blocks storage: when the queue is full the feedback is skipped and counted.

Feedback that cannot reach the scheduler (down, restarting) is not dropped: it stays at the head of the
queue and is sent again, with a wait that doubles up to ``RESEND.max_s``, until the scheduler answers;
what arrives meanwhile waits behind it in the bounded queue. Only a 4xx answer (the scheduler refuses
this feedback) discards it, counted as ``rejected``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from common.backoff import Backoff
from common.errors import DayuError, TransportError
from common.feedback import DropFeedback, TaskFeedback
from common.metrics import ServiceMetrics
from common.transport import ServiceClient

log = logging.getLogger(__name__)
RESEND = Backoff(base_s=0.5, max_s=10.0, jitter=True)


class FeedbackSender:
    def __init__(
        self,
        client: ServiceClient,
        url: str | None,
        *,
        capacity: int,
        retries: int,
        timeout: float,
        metrics: ServiceMetrics,
    ) -> None:
        self.client = client
        self.url = url
        self.retries = retries
        self.timeout = timeout
        self._queue: asyncio.Queue[TaskFeedback | DropFeedback] = asyncio.Queue(maxsize=capacity)
        self._task: asyncio.Task[None] | None = None
        self._head: TaskFeedback | DropFeedback | None = None  # the one being re-sent
        self._outcomes = metrics.counter("distributor_feedback_total", "Feedback sends by outcome", ["outcome"])

    def __len__(self) -> int:
        return self._queue.qsize() + (self._head is not None)

    def start(self) -> None:
        if self.url is not None:
            self._task = asyncio.create_task(self._run(), name="feedback-sender")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def offer(self, feedback: TaskFeedback | DropFeedback) -> None:
        if self.url is None:
            return
        try:
            self._queue.put_nowait(feedback)
        except asyncio.QueueFull:
            self._outcomes.labels("skipped").inc()

    async def _run(self) -> None:
        failures = 0  # sends of the head in a row that failed
        while True:
            if self._head is None:
                self._head = await self._queue.get()
            if await self._send(self._head):
                self._head = None
                failures = 0
                continue
            failures += 1
            await asyncio.sleep(RESEND.delay(failures))

    async def _send(self, feedback: TaskFeedback | DropFeedback) -> bool:
        """True when the feedback is done with (sent, or refused for good); False to send it again."""
        assert self.url is not None
        try:
            await self.client.request(
                "POST",
                self.url,
                json=feedback.model_dump(mode="json"),
                idempotent=True,
                retries=self.retries,
                timeout=self.timeout,
            )
        except TransportError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (408, 429):
                self._outcomes.labels("rejected").inc()
                log.warning("feedback refused by %s: %s", self.url, exc)
                return True
            self._outcomes.labels("failed").inc()
            log.warning("feedback to %s failed, will be sent again: %s", self.url, exc)
            return False
        except DayuError as exc:
            self._outcomes.labels("failed").inc()
            log.warning("feedback to %s failed, will be sent again: %s", self.url, exc)
            return False
        self._outcomes.labels("sent").inc()
        return True
