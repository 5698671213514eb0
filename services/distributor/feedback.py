"""Feedback to the scheduler, sent after the record is stored: a bounded queue, bounded retries.

What travels is :mod:`common.feedback` (delays, per-stage timings and nodes, knobs used, bytes, content,
accuracy), not the task with its results. A slow or dead scheduler never loses a record (it is already
in SQLite) and never blocks storage: when the queue is full the feedback is skipped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from common.errors import DayuError
from common.feedback import DropFeedback, TaskFeedback
from common.metrics import ServiceMetrics
from common.transport import ServiceClient

log = logging.getLogger(__name__)


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
        self._outcomes = metrics.counter("distributor_feedback_total", "Feedback sends by outcome", ["outcome"])

    def __len__(self) -> int:
        return self._queue.qsize()

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
        assert self.url is not None
        while True:
            feedback = await self._queue.get()
            try:
                await self.client.request(
                    "POST",
                    self.url,
                    json=feedback.model_dump(mode="json"),
                    idempotent=True,
                    retries=self.retries,
                    timeout=self.timeout,
                )
            except DayuError as exc:
                self._outcomes.labels("failed").inc()
                log.warning("feedback to %s failed: %s", self.url, exc)
            else:
                self._outcomes.labels("sent").inc()
