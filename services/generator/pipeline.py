"""The generator's loop: read -> filter -> admit -> resize -> encode frame by frame (worker thread) -> submit.

Reading (with filtering and resizing) runs in one worker thread and encoding in another: each kept frame is
handed to the encoder thread as soon as it is read, so a segment's file is finished shortly after its last
frame (``services/generator/encoder.py``). Complete segments wait in a bounded queue for their encoding to
finish and to be submitted. When that queue is full, a replayed source waits (replays stay identical),
while a live (paced) source skips the frames it cannot hand over and counts them, so a slow encoder never
stalls a camera. Every task created is either accepted by the node's controller or recorded as a drop at
the distributor.

Reading runs between :meth:`Generator.open` and :meth:`Generator.close` (or the end of the source); the
submission loop runs for the generator's whole life, so closing lets the segments already made become
tasks, and task ids keep increasing across openings.

Before a segment's first frame the generator asks its admission (``services/generator/admission.py``)
whether to make it: when the node's controller asked for fewer segments, a shed segment's frames are taken
at the source's pace with :meth:`FrameSource.skip` (no image where the source can avoid making one), picked
by the planned rate alone (the frame filter, which may look at images, never sees them), neither resized nor
encoded, and it becomes a task that ends at once as a drop record ``shed`` (in order with the others,
through the same queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.contracts.controller import TaskAccepted
from common.contracts.generator import GeneratorStatus
from common.derive import fps_ratio, keeps
from common.encoding import segment_fps
from common.errors import DayuError, Unavailable
from common.metrics import ServiceMetrics
from common.outbox import SPOOL_DIR, Outbox
from common.plan import Plan
from common.records import DropReason, DropRecord
from common.registry import REGISTRY
from common.task import Meta, Payload, RawMeta, Task
from common.topology import Topology
from common.transport import ServiceClient
from services.generator import encoder as encoder_family
from services.generator import frame_filter as filter_family
from services.generator import frame_process as process_family
from services.generator import source as source_family
from services.generator.admission import SourceAdmission
from services.generator.config import GeneratorConfig
from services.generator.encoder import Encoder, FailedSegment, SegmentWriter, encoder_alias_for, temporary_files
from services.generator.frame_filter import FrameFilter
from services.generator.frame_process import FrameProcess
from services.generator.ledger import OpenMarker, TaskLedger
from services.generator.planner import Planner
from services.generator.source import Frame, FrameSource

log = logging.getLogger(__name__)
_ENCODED = np.empty((0, 0, 3), np.uint8)
"""Stands for a frame's image once it went to the encoder: the reader holds no frame after that."""
FAMILIES = (source_family.FAMILY, filter_family.FAMILY, process_family.FAMILY, encoder_family.FAMILY)
"""Hook families the generator uses; importing their modules declares the built-in hooks."""


@dataclass
class Segment:
    """One future task: its frames' indices and truths, the plan they were made under, and its file."""

    indices: list[int]
    truths: list[dict[str, Any] | None]
    meta: Meta
    source_time: float
    completed_at: float
    """Wall clock when the last frame was read: the task's ``created_at``."""
    writer: SegmentWriter | None
    encoded: asyncio.Future[int] | None
    """The file's size once the encoder thread has finished it (None: shed, never encoded)."""
    shed: str | None = None
    """Why the segment was shed before encoding; its task ends as a drop record ``shed``."""


@dataclass
class GeneratorStats:
    frames_read: int = 0
    frames_kept: int = 0
    frames_skipped_backpressure: int = 0
    """Frames of a live source left out of every segment because the encoder queue was full."""
    frames_read_shed: int = 0
    """Frames taken for shed segments with :meth:`FrameSource.skip` (included in ``frames_read``)."""
    tasks_created: int = 0
    tasks_submitted: int = 0
    tasks_dropped: int = 0
    tasks_shed: int = 0
    opens: int = 0
    state: str = "closed"
    error: str | None = None
    submit_ms: list[float] = field(default_factory=list)


class RecordedPace:
    """When a frame of a replayed source is due: as long after the first frame's release as it was recorded
    after the first frame (a live source needs none: its frames arrive as they happen)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._origin: tuple[float, float] | None = None  # (release time, recorded time) of the first frame

    def wait_s(self, timestamp: float) -> float:
        """Seconds until the frame recorded at ``timestamp`` is due (not positive: it is due now)."""
        now = self._clock()
        if self._origin is None:
            self._origin = (now, timestamp)
        return self._origin[0] + (timestamp - self._origin[1]) - now


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:64] or "source"


class Generator:
    def __init__(
        self,
        config: GeneratorConfig,
        *,
        node: str,
        work_dir: Path,
        client: ServiceClient,
        topology: Topology | None,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.config = config
        self.node = node
        self.work_dir = work_dir
        self.client = client
        self.topology = topology
        self.stats = GeneratorStats()
        self.raw_meta = RawMeta()
        # Never reset: ids keep increasing across close and open, and across a restart of the process.
        self.ledger = TaskLedger(work_dir / SPOOL_DIR / f"generator-{_safe_name(config.source_id)}.ledger.json")
        self.ledger.load()
        self.open_marker = OpenMarker(work_dir / SPOOL_DIR / f"generator-{_safe_name(config.source_id)}.open.json")
        self.source: FrameSource | None = None
        """The source of the current (or last) opening."""
        self.filter: FrameFilter = REGISTRY.create(
            "frame_filter", config.frame_filter.alias, config.frame_filter.params
        )
        self.process: FrameProcess = REGISTRY.create(
            "frame_process", config.frame_process.alias, config.frame_process.params
        )
        self._encoders: dict[str, Encoder] = {}
        self.planner = Planner(
            source_id=config.source_id,
            source_node=node,
            spec=config.dag,
            catalog=config.services,
            candidates=config.candidates,
            startup=Plan(meta=config.startup_plan, offload=config.startup_offload),
            interval=config.schedule_interval,
            timeout=config.plan_timeout_s,
            client=client,
            topology=topology,
        )
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="gen-read")
        self._encoder_pool = ThreadPoolExecutor(1, thread_name_prefix="gen-encode")
        self._segments: asyncio.Queue[Segment] = asyncio.Queue(maxsize=config.max_pending_segments)
        self._segments_made = 0
        self._shed_seen = 0
        """Frames taken for shed segments so far: spreads the ones they hold evenly at the planned rate."""
        metrics = metrics or ServiceMetrics("generator")
        self._skipped_metric = metrics.counter(
            "generator_frames_skipped_backpressure_total",
            "Frames of a live source skipped because the encoder queue was full",
        )
        self._shed_metric = metrics.counter(
            "generator_segments_shed_total", "Segments skipped before encoding because the node admitted fewer"
        )
        # Frames handed to the encoder thread and not yet written: the generator's largest transient memory (a
        # 720p frame is 2.7 MB), bounded by (max_pending_segments + 2) x buffer_size. The peak tells a soak's
        # one-time RSS step (the heap grown to a deeper backlog, kept for reuse) from a leak.
        self._awaiting_encoder = 0
        self._awaiting_peak = 0
        self._awaiting_metric = metrics.gauge(
            "generator_frames_awaiting_encoder", "Frames handed to the encoder thread and not yet written"
        )
        self._awaiting_peak_metric = metrics.gauge(
            "generator_frames_awaiting_encoder_peak", "The most frames that ever waited for the encoder thread at once"
        )
        # Named, so the node's sources shed at phases of their own instead of all the same segments.
        self.admission = SourceAdmission(
            enabled=config.follow_admission, stale_after_s=config.admission_stale_after_s, source=config.source_id
        )
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()
        self._reader_task: asyncio.Task[None] | None = None
        self._submitter: asyncio.Task[None] | None = None
        self._recovery: asyncio.Task[None] | None = None
        # Drop records the distributor cannot take now wait on disk; one spool per source on a shared work dir.
        self.outbox = Outbox(
            work_dir / SPOOL_DIR / f"generator-{_safe_name(config.source_id)}.jsonl",
            client=client,
            distributor_url=self._distributor_url,
            metrics=metrics,
        )

    # -- hooks --------------------------------------------------------------------------------
    def encoder_for(self, meta: Meta) -> Encoder:
        default = self.config.encoder
        alias = encoder_alias_for(meta.encoding, default.alias)
        if alias not in self._encoders:
            choice = self.config.x264 if alias == "x264" and default.alias != "x264" else default
            self._encoders[alias] = REGISTRY.create("encoder", alias, choice.params if choice.alias == alias else {})
        return self._encoders[alias]

    def _writer(self, meta: Meta) -> SegmentWriter:
        """A new segment file for frames made under ``meta`` (a failed one when no encoder can be made)."""
        try:
            encoder = self.encoder_for(meta)
        except Exception as exc:  # the segment ends as a drop record once complete
            return FailedSegment(exc)
        fps = segment_fps(meta.fps, self.raw_meta.fps)
        return encoder.writer(self.work_dir, fps, meta, prefix=self._temp_prefix)

    @property
    def _temp_prefix(self) -> str:
        return f".enc-{_safe_name(self.config.source_id)}-"

    def _remove_stale_segments(self) -> None:
        """Temporary files this source's encoder left when its process stopped mid-segment."""
        for path in temporary_files(self.work_dir, self._temp_prefix):
            path.unlink(missing_ok=True)

    # -- reading (worker thread) --------------------------------------------------------------
    def _next_kept(self, source: FrameSource, meta: Meta, resize: bool = True) -> Frame | None:
        """Read until a frame passes the filter; resize it unless told not to (it is to be skipped). Runs in the
        reader thread."""
        source_fps = source.delivered_fps(self.raw_meta.fps or 30.0)
        while True:
            frame = source.read()
            if frame is None:
                return None
            self.stats.frames_read += 1
            if self.filter.keep(frame, source_fps, meta.fps):
                if resize:
                    frame.image = self.process.apply(frame.image, meta.resolution)
                return frame

    def _next_shed(self, source: FrameSource, meta: Meta) -> Frame | None:
        """The next frame of a shed segment, taken without its image where the source allows and picked by the
        planned rate alone: the frame filter may look at images, and a shed segment has none. Runs in the
        reader thread."""
        ratio = fps_ratio(source.delivered_fps(self.raw_meta.fps or 30.0), meta.fps)
        while True:
            frame = source.skip()
            if frame is None:
                return None
            self.stats.frames_read += 1
            self.stats.frames_read_shed += 1
            n, self._shed_seen = self._shed_seen, self._shed_seen + 1
            if keeps(n, ratio):
                return frame

    def _under_limit(self) -> bool:
        return self.config.max_tasks is None or self._segments_made < self.config.max_tasks

    async def _read_loop(self, source: FrameSource) -> None:
        """Read until the source ends, fails or is closed; then wait until every segment made is a task that
        was submitted or recorded as dropped, and report how reading ended."""
        loop = asyncio.get_running_loop()
        writer: SegmentWriter | None = None  # the segment being filled
        try:
            await self.planner.first_plan(self.raw_meta)
            source.set_rate_hint(self.planner.plan.meta.fps)
            live = source.paced
            # A live source hands frames over as they happen; a replayed one is held to its recorded pace here,
            # unless the config asks for frames as fast as they are read.
            pace = RecordedPace() if not live and self.config.realtime else None
            batch: list[Frame] = []
            meta = self.planner.plan.meta
            ended = False
            shed: str | None = None  # why the segment being read is shed (None: it is made)
            decided = False  # whether that was asked for the segment being read
            while self._under_limit() and not self._stop.is_set():
                if not batch:
                    meta = self.planner.plan.meta  # a segment is made under one plan
                    source.set_rate_hint(meta.fps)
                # Only this loop fills the queue, so room seen when a segment starts is still there when it is
                # complete: a live source never waits on the encoder, and a segment holds consecutive kept frames.
                skip = live and not batch and self._segments.full()
                if not batch and not skip and not decided:
                    shed, decided = self.admission.shed_next(), True
                frame = await self._read(source, meta, shed=shed, decode=not skip)
                if frame is None:
                    ended = True
                    break
                if self._stop.is_set():
                    break  # read while closing: kept out of any task
                if skip:
                    self.stats.frames_skipped_backpressure += 1
                    self._skipped_metric.inc()
                    continue
                if pace is not None and await self._stopped_within(pace.wait_s(frame.timestamp)):
                    break
                self.stats.frames_kept += 1
                batch.append(frame)
                if shed is None:
                    if writer is None:
                        writer = self._writer(meta)
                    # Not awaited: the reader goes on while the encoder thread takes the frames in order.
                    self._count_awaiting(loop.run_in_executor(self._encoder_pool, writer.add, frame.image))
                frame.image = _ENCODED
                if len(batch) >= meta.buffer_size:
                    await self._put(self._segment(batch, meta, writer, shed))
                    batch, writer, shed, decided = [], None, None, False
                    self.planner.maybe_refresh(frame.timestamp, self.raw_meta)
            if ended and batch and (writer is not None or shed is not None) and self._under_limit():
                await self._put(self._segment(batch, meta, writer, shed))
                writer = None
            await self._segments.join()
            if not self._stop.is_set():
                self.stats.state = "finished"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the source failed: report it in /status, finish the tasks already made
            log.error("generator stopped reading: %s", exc)
            await self._segments.join()
            self.stats.state, self.stats.error = "failed", str(exc)
        finally:
            if writer is not None:  # frames read while closing, or before the source failed: in no task
                with contextlib.suppress(RuntimeError):  # the encoder thread is gone: the next start removes it
                    loop.run_in_executor(self._encoder_pool, writer.discard)
            with contextlib.suppress(Exception):
                # In the reader thread, so it never races a read still running there.
                await asyncio.shield(loop.run_in_executor(self._reader, source.close))

    async def _read(self, source: FrameSource, meta: Meta, *, shed: str | None, decode: bool) -> Frame | None:
        """The next frame, in the reader thread: of a shed segment (no image where the source allows), else a
        kept one (decoded and resized unless ``decode`` is false: it is to be skipped)."""
        loop = asyncio.get_running_loop()
        if shed is not None:
            return await loop.run_in_executor(self._reader, self._next_shed, source, meta)
        return await loop.run_in_executor(self._reader, self._next_kept, source, meta, decode)

    async def _stopped_within(self, seconds: float) -> bool:
        """Wait ``seconds`` (not at all when not positive), less if the generator stops; True if it stopped."""
        if seconds <= 0:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()

    def _count_awaiting(self, written: asyncio.Future[None]) -> None:
        """Count a frame handed to the encoder thread until ``written`` is done."""
        self._awaiting_encoder += 1
        self._awaiting_metric.set(self._awaiting_encoder)
        if self._awaiting_encoder > self._awaiting_peak:
            self._awaiting_peak = self._awaiting_encoder
            self._awaiting_peak_metric.set(self._awaiting_peak)
        written.add_done_callback(self._frame_written)

    def _frame_written(self, _: asyncio.Future[None]) -> None:
        self._awaiting_encoder -= 1
        self._awaiting_metric.set(self._awaiting_encoder)

    async def _put(self, segment: Segment) -> None:
        self._segments_made += 1
        await self._segments.put(segment)

    def _segment(self, batch: list[Frame], meta: Meta, writer: SegmentWriter | None, shed: str | None) -> Segment:
        """A complete segment: its file is finished in the encoder thread, unless it was shed (no writer)."""
        encoded = None
        if shed is None and writer is not None:
            encoded = asyncio.get_running_loop().run_in_executor(self._encoder_pool, writer.finish)
        return Segment(
            indices=[f.index for f in batch],
            truths=[f.truth for f in batch],
            meta=meta.model_copy(update={"buffer_size": len(batch)} if len(batch) != meta.buffer_size else {}),
            source_time=batch[-1].timestamp,
            completed_at=time.time(),
            writer=writer if encoded is not None else None,
            encoded=encoded,
            shed=None if encoded is not None else (shed or "shed before encoding"),
        )

    # -- encoding and submission ----------------------------------------------------------------
    async def _submit_loop(self) -> None:
        """Turns every queued segment into a task, for as long as the generator runs (across openings)."""
        while True:
            segment = await self._segments.get()
            try:
                await self._make_task(segment)
            except Exception:  # a bug here must not stall the queue that closing waits on
                log.exception("making a task failed")
            finally:
                self._segments.task_done()

    async def _make_task(self, segment: Segment) -> None:
        task_id = self.ledger.take()
        try:
            await self._make(task_id, segment)
        finally:
            self.ledger.done(task_id)

    @property
    def next_task_id(self) -> int:
        return self.ledger.next_task_id

    async def _drop_unfinished(self) -> None:
        """Tasks a previous process of this generator made but never handed over: each a drop record."""
        for task_id in self.ledger.unfinished:
            task = Task(
                source_id=self.config.source_id,
                task_id=task_id,
                task_uuid=self.ledger.uuid_of(task_id),
                source_node=self.node,
                dag=self.planner.dag(),
                payload=Payload(file_name=None),
            )
            await self._drop(task, DropReason.SHUTDOWN, "the generator stopped before handing the task over")
        self.ledger.forget_unfinished()

    async def _make(self, task_id: int, segment: Segment) -> None:
        name = f"{_safe_name(self.config.source_id)}-{task_id:07d}-{uuid.uuid4().hex[:8]}.mp4"
        truth = None if all(t is None for t in segment.truths) else [t or {} for t in segment.truths]
        task = Task(
            source_id=self.config.source_id,
            task_id=task_id,
            task_uuid=self.ledger.uuid_of(task_id),
            source_node=self.node,
            meta=segment.meta,
            raw_meta=self.raw_meta,
            dag=self.planner.dag(),
            payload=Payload(file_name=name, frame_indices=segment.indices, ground_truth=truth),
            deployment_version=self.planner.deployment_version,
            created_at=segment.completed_at,
        )
        self.stats.tasks_created += 1
        if segment.shed is not None or segment.writer is None or segment.encoded is None:
            task.payload.file_name = None
            self.stats.tasks_shed += 1
            self._shed_metric.inc()
            await self._drop(task, DropReason.SHED, segment.shed or "shed before encoding")
            return
        try:
            size = await segment.encoded
            segment.writer.move_to(self.work_dir / name)
        except Exception as exc:  # any encoder failure ends this task as a drop record, not silently
            await asyncio.get_running_loop().run_in_executor(self._encoder_pool, segment.writer.discard)
            await self._drop(task, DropReason.INVALID, f"encoding failed: {exc}")
            return
        task.payload.size_bytes = size
        await self._submit(task)

    async def _submit(self, task: Task) -> None:
        start = time.perf_counter()
        try:
            if self.topology is None:
                raise DayuError("no topology: the generator does not know its controller")
            url = self.topology.component_url("controller", self.node) + "/tasks"
            response = await self.client.request(
                "POST",
                url,
                content=task.to_json(),
                headers={"content-type": "application/json"},
                idempotent=True,
                retries=self.config.submit_retries,
                timeout=self.config.submit_timeout_s,
            )
        except DayuError as exc:
            (self.work_dir / (task.payload.file_name or "")).unlink(missing_ok=True)
            await self._drop(task, DropReason.NODE_UNREACHABLE, f"controller did not take the task: {exc}")
            return
        self.stats.tasks_submitted += 1
        self.stats.submit_ms.append((time.perf_counter() - start) * 1000)
        del self.stats.submit_ms[:-200]
        self._heard(response.content)

    def _heard(self, reply: bytes) -> None:
        """The controller's reply carries the share of segments the node admits now (back-pressure)."""
        try:
            accepted = TaskAccepted.model_validate_json(reply)
        except ValueError:
            return  # a controller that says nothing of admission: the share stays as it was
        self.admission.heard(accepted.admit, accepted.pressure)

    async def _drop(self, task: Task, reason: DropReason, message: str) -> None:
        self.stats.tasks_dropped += 1
        log.warning("task %s/%d dropped: %s", task.source_id, task.task_id, message)
        record = DropRecord.of(task, reason, message, node=self.node)
        outcome = await self.outbox.deliver("drops", record.model_dump_json(), retries=3)
        if outcome in ("rejected", "discarded"):
            log.error("could not record the drop of %s/%d (%s)", task.source_id, task.task_id, outcome)

    def _distributor_url(self) -> str:
        if self.topology is None:
            raise DayuError("no topology: the generator does not know the distributor")
        return self.topology.component_url("distributor")

    # -- lifecycle ----------------------------------------------------------------------------
    def make_source(self, params: Mapping[str, Any] | None = None) -> FrameSource:
        """The configured source hook with ``params`` over its configured parameters; a HookError (4xx) names
        what is wrong with them."""
        merged = {**self.config.source.params, **(params or {})}
        source: FrameSource = REGISTRY.create("source", self.config.source.alias, merged)
        return source

    @property
    def reading(self) -> bool:
        return self._reader_task is not None and not self._reader_task.done()

    def start(self) -> None:
        """Start the submission loop; reading starts with :meth:`open`."""
        if self._submitter is None:
            self._remove_stale_segments()
            self.outbox.open()
            self._submitter = asyncio.create_task(self._submit_loop(), name="generator-submit")
            if self.ledger.unfinished:
                self._recovery = asyncio.create_task(self._drop_unfinished(), name="generator-unfinished")

    async def open(self, params: Mapping[str, Any] | None = None) -> bool:
        """Open the source and start reading; False when it was already open (nothing changes then).

        Bad ``params`` raise before anything changes; a source that cannot be opened leaves the state
        ``failed`` with the reason, and the error is raised.
        """
        async with self._lock:
            if self.reading:
                return False
            source = self.make_source(params)
            loop = asyncio.get_running_loop()
            self.stats.state = "opening"
            try:
                raw_meta = await loop.run_in_executor(self._reader, source.open)
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await loop.run_in_executor(self._reader, source.close)
                self.stats.state, self.stats.error = "failed", f"could not open the source: {exc}"
                log.error("%s", self.stats.error)
                if isinstance(exc, DayuError):
                    raise
                raise Unavailable(self.stats.error) from exc
            self.raw_meta = raw_meta
            self.source = source
            self._stop.clear()
            self.stats.state, self.stats.error = "running", None
            self.stats.opens += 1
            self._reader_task = asyncio.create_task(self._read_loop(source), name="generator-read")
            self.open_marker.set(dict(params or {}))
            return True

    async def close(self, timeout: float | None = None) -> bool:
        """Stop reading, then wait until the segments already made are submitted or dropped; False when the
        source was not being read (nothing changes then). Bounded by ``timeout`` (default: the config's)."""
        timeout = self.config.close_timeout_s if timeout is None else timeout
        async with self._lock:
            task = self._reader_task
            if task is None:
                return False
            self._reader_task = None
            self.open_marker.clear()
            was_reading = not task.done()
            self._stop.set()
            if self.source is not None:
                self.source.interrupt()
            if was_reading:
                self.stats.state = "closing"
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if not done:
                log.warning("the reader did not stop within %gs; cancelled", timeout)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            try:
                await asyncio.wait_for(self._segments.join(), timeout)
            except TimeoutError:
                log.warning("segments still being sent after %gs; they go on in the background", timeout)
            if was_reading:
                self.stats.state = "closed"
            return was_reading

    async def shutdown(self, timeout: float) -> None:
        """Close, stop the submission loop and release the workers (the app is stopping)."""
        with contextlib.suppress(Exception):
            await self.close(timeout)
        if self._submitter is not None:
            self._submitter.cancel()
            await asyncio.gather(self._submitter, return_exceptions=True)
        await self.planner.aclose()
        await self.outbox.close()
        await asyncio.to_thread(self._release)

    def _release(self) -> None:
        self._reader.shutdown(wait=False, cancel_futures=True)
        self._encoder_pool.shutdown(wait=True, cancel_futures=True)

    def status(self) -> GeneratorStatus:
        s = self.stats
        submit = sorted(s.submit_ms)
        return GeneratorStatus(
            source_id=self.config.source_id,
            node=self.node,
            state=s.state,
            open=self.reading,
            opens=s.opens,
            next_task_id=self.next_task_id,
            error=s.error,
            source=self.config.source.alias,
            raw_meta=self.raw_meta,
            frames_read=s.frames_read,
            frames_kept=s.frames_kept,
            frames_skipped_backpressure=s.frames_skipped_backpressure,
            frames_read_shed=s.frames_read_shed,
            source_images_decoded=self.source.images_decoded if self.source is not None else 0,
            source_frames_skipped=self.source.frames_skipped if self.source is not None else 0,
            tasks_created=s.tasks_created,
            tasks_submitted=s.tasks_submitted,
            tasks_dropped=s.tasks_dropped,
            tasks_shed=s.tasks_shed,
            admit=self.admission.current(),
            admit_reason=self.admission.reason if self.admission.current() < 1.0 else "",
            admission_signals=self.admission.signals,
            drops_unrecorded=self.outbox.lost,
            outbox=self.outbox.status(),
            finished=s.state in ("finished", "failed"),
            plan=self.planner.plan,
            plan_age_s=round(self.planner.age(), 3),
            plans_received=self.planner.received,
            plan_failures=self.planner.failures,
            plan_error=self.planner.last_error,
            deployment_version=self.planner.deployment_version,
            submit_ms_p50=submit[len(submit) // 2] if submit else None,
        )
