"""The processor's engine: bounded queue, one worker thread running the application, results into tasks.

The model runs off the event loop in the worker thread; the worker blocks on the queue while idle.
Each job is answered exactly once through its ``resolve`` callback (a result, or an error that the
route turns into 503 overloaded / 422 decode_error / ...).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psutil
from pydantic import JsonValue

from common.contracts.processor import ModelInfo
from common.errors import DayuError, Overloaded
from common.golden import LABEL_KEY, Knobs, requested
from common.metrics import ServiceMetrics
from common.registry import REGISTRY
from common.results import FrameResult, SegmentResult
from common.task import SENTINELS, Task
from services.processor.application import FAMILY as APPLICATION
from services.processor.application import Application
from services.processor.config import ProcessorConfig
from services.processor.decode import decode_segment, probe_segment
from services.processor.labeller import LabelGate, detector_of, label
from services.processor.queue import FAMILY as QUEUE
from services.processor.queue import Job, JobQueue
from services.processor.scenario import FAMILY as SCENARIO
from services.processor.scenario import ScenarioExtractor

log = logging.getLogger(__name__)
IDLE_POLL_S = 1.0  # the worker wakes this often while idle only to notice shutdown


def upstream_result(task: Task) -> SegmentResult | None:
    """The result of the stage this task came from (or of the first finished predecessor)."""
    stage = task.stage
    order = [task.came_from, *stage.prev] if task.came_from else list(stage.prev)
    for name in order:
        if name is None or name in SENTINELS:
            continue
        prev = task.dag.get(name)
        if prev is not None and prev.done and prev.result is not None:
            return prev.result
    return None


def model_knob(task: Task) -> str | None:
    """The model the task's plan picked for this stage's service, when it picked one.

    ``meta.extra["model"]`` is a model name, or a mapping from service to model name for a DAG whose
    stages run different multi-model applications.
    """
    value = task.meta.extra.get("model")
    if isinstance(value, dict):
        value = value.get(task.stage.service)
    return value if isinstance(value, str) and value else None


class Engine:
    def __init__(
        self,
        config: ProcessorConfig,
        *,
        threads: int,
        work_dir: Path,
        metrics: ServiceMetrics,
        node: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.work_dir = work_dir
        self.node = node
        labeller = config.labeller
        allowed = labeller.enabled and (not labeller.nodes or node in labeller.nodes)
        self.label_gate = LabelGate(labeller.min_period_s, clock) if allowed else None
        """None where the deployment does not let this node label."""
        params = dict(config.application.params)
        app_fields = REGISTRY.get(APPLICATION, config.application.alias).Config.model_fields
        if "threads" in app_fields and params.get("threads") is None:
            params["threads"] = threads
        self.application: Application = REGISTRY.create(APPLICATION, config.application.alias, params)
        self.queue: JobQueue = REGISTRY.create(QUEUE, config.queue.alias, config.queue.params)
        self.scenarios: list[ScenarioExtractor] = [REGISTRY.create(SCENARIO, alias) for alias in config.scenarios]
        self.threads = int(params.get("threads") or threads)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.model_lock = threading.Lock()
        """Held while the model runs: the worker and the golden labeller share one model instance."""
        self.processed = 0
        # Running mean of the model's ms per frame by the segment's resolution (what model_info reports).
        self.cost_ms: dict[str, tuple[int, float]] = {}
        self._queue_gauge = metrics.gauge("processor_queue_length", "Jobs waiting for the model")
        self._service_hist = metrics.histogram("processor_service_seconds", "Model call per segment")
        self._queue_hist = metrics.histogram("processor_queue_seconds", "Wait before the model")
        self._outcomes = metrics.counter("processor_jobs_total", "Jobs by outcome", ["outcome"])

    # -- lifecycle (called from the lifespan) ----------------------------------------------------
    def load(self) -> None:
        """Load and warm the model; blocking, so the lifespan runs it in a thread."""
        self.application.load()
        if self.config.warmup:
            self.application.warmup(320, 240)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="processor-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for job in self.queue.close():
            self._fail(job, Overloaded("the processor is shutting down"), "shutdown")
        if self._thread is not None:
            self._thread.join(timeout)

    # -- submission ------------------------------------------------------------------------------
    def submit(self, job: Job) -> None:
        try:
            evicted = self.queue.put(job)
        except Overloaded:
            self._outcomes.labels("refused").inc()
            raise
        for old in evicted:
            self._fail(old, Overloaded("evicted from the processor queue by a newer task (drop-oldest)"), "evicted")
        self._queue_gauge.set(len(self.queue))

    def clear(self) -> int:
        gone = self.queue.clear()
        for job in gone:
            self._fail(job, Overloaded("the processor queue was cleared"), "cleared")
        self._queue_gauge.set(0)
        return len(gone)

    def _fail(self, job: Job, error: BaseException, outcome: str) -> None:
        self._outcomes.labels(outcome).inc()
        job.resolve(error)

    # -- the worker ------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            job = self.queue.get(IDLE_POLL_S)
            if job is None:
                continue
            self._queue_gauge.set(len(self.queue))
            if job.cancelled:  # the caller gave up waiting; do not spend the model on it
                self._outcomes.labels("abandoned").inc()
                continue
            try:
                task = self.run(job)
            except DayuError as exc:
                self._fail(job, exc, exc.code)
            except Exception as exc:  # a model bug must not kill the worker
                log.exception("application %s failed", self.application.alias)
                self._fail(job, exc, "error")
            else:
                self.processed += 1
                self._outcomes.labels("done").inc()
                job.resolve(task)

    def run(self, job: Job) -> Task:
        """Decode the segment, run the model, and write result, scenario and timings into the task."""
        started = time.perf_counter()
        task = job.task
        stage = task.stage
        name = task.payload.file_name or ""
        path = self.work_dir / name
        upstream = upstream_result(task)
        extra: dict[str, JsonValue] = {}
        if self.application.needs_frames:
            frames = decode_segment(path, max_frames=self.config.max_frames)
            decoded = time.perf_counter()
            with self.model_lock:
                results = self.application.process_with(model_knob(task), frames, upstream)
            count = len(frames)
            finished = time.perf_counter()
            if upstream is None:
                extra.update(self._label(task, path, frames, results))
        else:
            probe = probe_segment(path, max_frames=self.config.max_frames)
            decoded = time.perf_counter()
            results = self.application.describe(probe, upstream)
            count = probe.frames
            finished = time.perf_counter()
        indices = task.payload.frame_indices
        for i, frame in enumerate(results):
            if frame.frame_index is None and i < len(indices):
                frame.frame_index = indices[i]
        scenario: dict[str, float] = {}
        for extractor in self.scenarios:
            scenario.update(extractor.extract(results, task.meta.fps))
        stage.result = self.application.segment_result(
            results, {"decode_s": round(decoded - started, 6), "frames": count, **extra}
        )
        stage.scenario = scenario
        stage.timings.queue = max(0.0, started - job.enqueued_at)
        stage.timings.service = finished - decoded
        stage.done = True
        self._record_cost(task.meta.resolution, stage.timings.service, count)
        self._queue_hist.observe(stage.timings.queue)
        self._service_hist.observe(stage.timings.service)
        return task

    def _label(
        self, task: Task, path: Path, frames: list[np.ndarray], results: list[FrameResult]
    ) -> dict[str, JsonValue]:
        """The golden labels a profiling segment asked for (``meta.extra["label"]``), where this node may label.

        The segment was made at the golden configuration; its results from the golden model are the labels.
        Runs after the model's own pass, so the task's service time does not include it (its delay does)."""
        candidates = requested(task.meta.extra)
        if candidates is None or self.label_gate is None:
            return {}
        if self.label_gate.wait_s() > 0:
            return {"label_skipped": "the labeller's period has not passed"}
        meta = task.meta
        served = model_knob(task)
        golden = Knobs(
            resolution=meta.resolution,
            fps=min(meta.fps, task.raw_meta.fps or meta.fps),
            encoding=meta.encoding,
            qp=meta.qp,
            buffer_size=meta.buffer_size,
            model=served or self.config.labeller.golden_model,
        )
        # The task's own pass ran the golden model when the plan named one, or when no golden model is set.
        same_model = served is not None or self.config.labeller.golden_model is None
        try:
            with self.model_lock:
                report = label(
                    frames,
                    golden,
                    candidates,
                    detector_of(self.application),
                    segment_bytes=path.stat().st_size,
                    golden_results=results if same_model else None,
                )
        except DayuError as exc:  # a bad candidate list spoils the labels, not the task's own result
            return {"label_skipped": exc.message}
        self.label_gate.record(report)
        return {LABEL_KEY: report.model_dump()}

    def _record_cost(self, resolution: str, seconds: float, frames: int) -> None:
        if frames <= 0 or (resolution not in self.cost_ms and len(self.cost_ms) >= 32):
            return
        n, mean = self.cost_ms.get(resolution, (0, 0.0))
        ms = seconds * 1000.0 / frames
        self.cost_ms[resolution] = (n + 1, mean + (ms - mean) / (n + 1))

    def info(self, service: str | None) -> ModelInfo:
        return ModelInfo.model_validate(
            {
                **self.application.info(),
                "service": service,
                "threads": self.threads,
                "queue": self.queue.info(),
                "scenarios": [s.alias for s in self.scenarios],
                "processed": self.processed,
                "ms_per_frame": {res: round(mean, 3) for res, (_, mean) in sorted(self.cost_ms.items())},
                "memory_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
                "labeller": self.label_gate.info() if self.label_gate is not None else None,
            }
        )
