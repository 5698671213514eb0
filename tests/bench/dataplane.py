"""Data-plane benchmarks against real component processes started by the local runtime (one cloud node)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import psutil

from backend.local_runtime.runtime import REPO_ROOT, LocalRuntime, free_port
from common.dag import DagSpec, ServiceType, build_dag
from common.plan import PlanRequest
from common.task import END, Payload, Task
from common.transport import ServiceClient
from common.wire import framed_task
from common.workload import Workload
from tests.bench import floor, guard
from tests.bench.measure import busy_share, load_window, percentile
from tests.e2e.cluster import face_image

CATALOG = {
    "passthrough": ServiceType(input="any", output="any"),
    "face-detection": ServiceType(input="frame", output="bbox"),
}


def face_service(threads: int) -> str:
    """One face-detection processor per thread count measured, each under its own service id."""
    return f"face-detection-{threads}t"


def face_thread_counts() -> list[int]:
    """1 thread (the default rule: 2 cores / 2 processors on the node) and every core."""
    return sorted({1, max(1, psutil.cpu_count() or 1)})


for _t in face_thread_counts():
    CATALOG[face_service(_t)] = ServiceType(input="frame", output="bbox")


def workloads() -> list[Workload]:
    base = [
        Workload(name="distributor", component="distributor", node="cloud", stage=1, config={"feedback": False}),
        Workload(name="scheduler", component="scheduler", node="cloud", stage=1, config={"agent": {"alias": "fixed"}}),
        Workload(name="controller-cloud", component="controller", node="cloud", config={"max_in_flight": 4096}),
        Workload(
            name="proc-passthrough",
            component="processor",
            node="cloud",
            service="passthrough",
            config={"service": "passthrough", "application": {"alias": "passthrough"}, "warmup": False},
        ),
    ]
    faces = [
        Workload(
            name=f"proc-{face_service(t)}",
            component="processor",
            node="cloud",
            service=face_service(t),
            config={
                "service": face_service(t),
                "application": {"alias": "face-detection", "params": {"threads": t}},
            },
        )
        for t in face_thread_counts()
    ]
    return base + faces


def write_segment(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> None:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
    for f in frames:
        writer.write(f)
    writer.release()


def face_frames(n: int, size: tuple[int, int] = (640, 360)) -> list[np.ndarray]:
    width, height = size
    face = cv2.resize(face_image(), (height, height))
    out = []
    for i in range(n):
        scene = np.full((height, width, 3), (90, 120, 60), np.uint8)
        x = (i * 11) % (width - height + 1)
        scene[:, x : x + height] = face
        out.append(scene)
    return out


def make_task(spec: dict[str, Any], task_id: int, file_name: str, source: str = "bench") -> Task:
    dag = build_dag(DagSpec.model_validate(spec), CATALOG)
    for stage in dag.values():
        stage.node = "cloud"
    return Task(
        source_id=source,
        task_id=task_id,
        source_node="cloud",
        dag=dag,
        payload=Payload(file_name=file_name, frame_indices=list(range(4))),
    )


async def hop_overhead(
    url: str, sizes_mb: list[float], rounds: int, floor_url: str | None = None
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """One node-to-node hop as a controller makes it: the task and its segment in one framed ``POST
    /tasks`` (:func:`common.wire.framed_task`, as ``Dispatcher._forward`` sends it), until the ``202``.

    With ``floor_url``, every Dayu hop is followed by one bare hop (:mod:`tests.bench.floor`) of the same
    bytes, so both see the same moment of the machine's load. Returns milliseconds per call by size,
    Dayu's and the floor's (5 warm-up calls of each discarded)."""
    import aiohttp

    dayu: dict[str, list[float]] = {}
    bare: dict[str, list[float]] = {}
    spec = {"stages": [{"name": "p", "service": "passthrough"}]}
    async with ServiceClient() as client, aiohttp.ClientSession(connector=floor.connector()) as session:
        for size_mb in sizes_mb:
            data = np.random.default_rng(0).integers(0, 255, int(size_mb * 1024 * 1024), np.uint8).tobytes()
            key = f"{size_mb:g}MB"
            dayu[key], bare[key] = [], []
            for i in range(rounds + 5):
                name = f"hop-{size_mb}-{i}.bin"
                task = make_task(spec, i, name, source=f"hop-{size_mb}").with_cursor("p").with_cursor(END)
                start = time.perf_counter()
                body, headers = framed_task(task, data)
                await client.request("POST", f"{url}/tasks", content=body, headers=headers, idempotent=True)
                if i >= 5:  # the first calls open connections and warm caches
                    dayu[key].append((time.perf_counter() - start) * 1000)
                if floor_url is None:
                    continue
                start = time.perf_counter()
                async with session.post(
                    f"{floor_url}/hop", data=data, headers={"content-type": "application/octet-stream"}
                ) as answer:
                    await answer.read()
                    if answer.status != 202:
                        raise RuntimeError(f"the bare hop answered {answer.status}")
                if i >= 5:
                    bare[key].append((time.perf_counter() - start) * 1000)
    return dayu, bare


def summarise(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {
        k: {"p50": round(percentile(v, 50), 3), "p95": round(percentile(v, 95), 3), "n": len(v)}
        for k, v in samples.items()
    }


@dataclass
class LoadOutcome:
    """What one closed-loop run produced, counted at the distributor for this run's source only."""

    elapsed_s: float
    submitted: int
    results: int
    drops: dict[str, int] = field(default_factory=dict)
    mean_latency_s: float | None = None

    @property
    def dropped(self) -> int:
        return sum(self.drops.values())


async def source_counts(client: ServiceClient, dist: str, source: str) -> tuple[int, dict[str, int], float | None]:
    # Only this source's counts, as the bare chain's sink answers them (``/count/{source}``).
    raw = (await client.request("GET", f"{dist}/stats?source_id={source}")).content
    entry = json.loads(raw)["sources"].get(source, {})
    return int(entry.get("results", 0)), dict(entry.get("drops", {})), entry.get("mean_latency")


async def closed_loop(
    ctrl: str,
    dist: str,
    spec: dict[str, Any],
    source: str,
    segments: list[Path],
    *,
    window: int,
    timeout: float = 300.0,
    poll_s: float = 0.005,
) -> LoadOutcome:
    """Submit tasks at the controller keeping at most ``window`` unfinished (not yet a result or a drop
    at the distributor), so the load follows what the pipeline takes instead of overrunning its queues.

    The clock runs from the first submission until the distributor holds every task of ``source``. The task
    bodies are made before it starts, as the bare chain's are (:func:`tests.bench.floor.chain_floor`).
    """
    bodies = [make_task(spec, i, seg.name, source=source).to_json().encode() for i, seg in enumerate(segments)]
    headers = {"content-type": "application/json"}
    async with ServiceClient(timeout=60) as client:

        async def submit(i: int) -> None:
            await client.request("POST", f"{ctrl}/tasks", content=bodies[i], headers=headers)

        n = len(segments)
        submitted = finished = 0
        results, latency = 0, None
        drops: dict[str, int] = {}
        start = time.perf_counter()
        deadline = time.monotonic() + timeout
        while finished < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{source}: {finished} of {n} tasks finished within {timeout}s")
            batch = range(submitted, min(n, finished + window))
            if batch:
                await asyncio.gather(*(submit(i) for i in batch))
                submitted = batch.stop
            await asyncio.sleep(poll_s)
            results, drops, latency = await source_counts(client, dist, source)
            finished = results + sum(drops.values())
        elapsed = time.perf_counter() - start
    return LoadOutcome(elapsed, submitted, results, drops, latency)


async def stage_records(dist: str, source: str, stage: str) -> list[dict[str, Any]]:
    """``stage`` (its result and timings) from every stored result of ``source``, read after the clock stopped."""
    out: list[dict[str, Any]] = []
    after = 0
    async with ServiceClient(timeout=60) as client:
        while True:
            page = await client.get_json(f"{dist}/results", params={"after": after, "source_id": source, "limit": 1000})
            for record in page["records"]:
                if record["kind"] == "result":
                    out.append(record["task"]["dag"][stage])
            if not page["records"]:
                return out
            after = page["cursor"]


def face_cascade(threads: int) -> Any:
    cv2.setNumThreads(threads)
    return cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")  # type: ignore[attr-defined]


def detect_faces(cascade: Any, image: np.ndarray) -> int:
    """The face-detection application's defaults: scale 1.2, 5 neighbours, 60 px."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return len(cascade.detectMultiScale(gray, scaleFactor=1.2, minNeighbors=5, minSize=(60, 60)))


def inprocess_face_rate(segments: list[Path], threads: int) -> tuple[float, int, int]:
    """A plain loop over the same segment files: decode with OpenCV, run the same Haar cascade.

    The cascade is warmed on the first segment first (the processor warms its model at start too).
    Returns frames/s, frames and faces found.
    """
    cascade = face_cascade(threads)
    cap = cv2.VideoCapture(str(segments[0]))
    ok, image = cap.read()
    cap.release()
    if ok:
        detect_faces(cascade, image)
    frames = faces = 0
    start = time.perf_counter()
    for seg in segments:
        cap = cv2.VideoCapture(str(seg))
        while True:
            ok, image = cap.read()
            if not ok:
                break
            faces += detect_faces(cascade, image)
            frames += 1
        cap.release()
    return frames / (time.perf_counter() - start), frames, faces


async def schedule_latency(url: str, rounds: int) -> dict[str, float]:
    dag = build_dag(DagSpec.model_validate({"stages": [{"name": "p", "service": "passthrough"}]}), CATALOG)
    body = PlanRequest(source_id="bench", source_node="cloud", dag=dag, edge_nodes=[]).model_dump(mode="json")
    rtt, decision = [], []
    async with ServiceClient() as client:
        for i in range(rounds + 20):
            start = time.perf_counter()
            answer = await client.post_json(f"{url}/plan", body)
            if i >= 20:
                rtt.append((time.perf_counter() - start) * 1000)
                if answer.get("decision_ms") is not None:
                    decision.append(float(answer["decision_ms"]))
    return {
        "rtt_p50": round(percentile(rtt, 50), 3),
        "rtt_p99": round(percentile(rtt, 99), 3),
        "decision_p50": round(percentile(decision, 50), 4) if decision else float("nan"),
        "decision_p99": round(percentile(decision, 99), 4) if decision else float("nan"),
    }


def rss_mb(rt: LocalRuntime) -> dict[str, float]:
    out = {}
    for record in rt.records():
        proc = record.process()
        if proc is None:
            continue
        total = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
        out[record.name] = round(total / 1024 / 1024, 1)
    return out


PASS_WINDOW = 16
"""Unfinished passthrough tasks at most: half the processors' queue capacity (32), so the bench's own
load never fills a queue; a drop here is a real failure, and it is reported."""
FACE_WINDOW = 8
"""Unfinished face tasks at most: keeps the processor's worker busy (one running, the rest queued)."""
PASS_POLL_S = 0.005
FACE_POLL_S = 0.1
"""How often the bench asks the distributor how far the run is. Each question costs the machine CPU the
pipeline would otherwise have, so it is asked no more often than the window needs: a window of 8 face
segments holds ~400 ms of work, far longer than the polling interval, so the worker never waits for it
(``face_processor_busy_share`` shows how much of the run the processor spent on segments)."""


def throughput(outcome: LoadOutcome, unit: int = 1) -> float:
    """Finished results (never drops) per second."""
    return round(outcome.results * unit / outcome.elapsed_s, 1)


def face_throughput(
    results: dict[str, Any], ctrl: str, dist: str, source: str, segments: list[Path], threads: int
) -> None:
    """Pipeline frames/s of one face-detection stage whose processor runs ``threads`` threads, against a
    plain loop with the same thread count over the same files. The in-process loop runs before and
    after the pipeline; their mean is the reference, so load from other work that drifts during the
    run weighs on both sides alike."""
    key = f"{threads}t"
    before_fps, inproc_frames, inproc_faces = inprocess_face_rate(segments, threads)
    spec = {"stages": [{"name": "f", "service": face_service(threads)}]}
    face = asyncio.run(closed_loop(ctrl, dist, spec, source, segments, window=FACE_WINDOW, poll_s=FACE_POLL_S))
    after_fps, _, _ = inprocess_face_rate(segments, threads)
    inproc_fps = (before_fps + after_fps) / 2
    stored = asyncio.run(stage_records(dist, source, "f"))
    pipe_frames = sum(len(s["result"]["frames"]) for s in stored)
    pipe_faces = sum(len(f["objects"]) for s in stored for f in s["result"]["frames"])
    model_s = sum(s["timings"]["service"] + s["result"]["extra"]["decode_s"] for s in stored)
    pipeline_fps = pipe_frames / face.elapsed_s
    results.setdefault("face_inprocess_fps", {})[key] = round(inproc_fps, 1)
    results.setdefault("face_inprocess_fps_before_after", {})[key] = [round(before_fps, 1), round(after_fps, 1)]
    results.setdefault("face_pipeline_fps", {})[key] = round(pipeline_fps, 1)
    results.setdefault("face_pipeline_drops", {})[key] = face.drops
    results.setdefault("face_inprocess_ms_per_frame", {})[key] = round(1000 / inproc_fps, 2)
    results.setdefault("face_pipeline_decode_model_ms_per_frame", {})[key] = round(
        model_s / max(1, pipe_frames) * 1000, 2
    )
    results.setdefault("face_processor_busy_share", {})[key] = round(model_s / face.elapsed_s, 3)
    results.setdefault("face_frames_inprocess_pipeline", {})[key] = [inproc_frames, pipe_frames]
    results.setdefault("face_detections_inprocess_pipeline", {})[key] = [inproc_faces, pipe_faces]
    results.setdefault("throughput_ratio_vs_inprocess", {})[key] = round(pipeline_fps / inproc_fps, 3)


PASS_COMPONENTS = ("controller-cloud", "proc-passthrough", "distributor")
"""Components whose CPU per task the passthrough run reports (the status polls of the bench included)."""
SECTIONS = ("hop", "passthrough", "face", "schedule")


@dataclass(frozen=True)
class FloorServer:
    """A bare server of :mod:`tests.bench.floor`: where it answers and its process (for its CPU time)."""

    url: str
    proc: subprocess.Popen[Any]

    def cpu_s(self) -> float:
        return process_cpu_s(self.proc.pid)


@dataclass(frozen=True)
class ProcessUsage:
    """What a process and its children have used so far: CPU time, the kernel's part of it, and the minor
    page faults behind most of that part (memory mapped and touched afresh)."""

    cpu_s: float = 0.0
    system_s: float = 0.0
    minor_faults: int = 0


def _minor_faults(pid: int) -> int:
    """Field 10 of Linux's /proc/<pid>/stat (after the command name, which may hold spaces); 0 elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rfind(")") + 2 :].split()[7])
    except (OSError, ValueError, IndexError):
        return 0


def process_usage(pid: int) -> ProcessUsage:
    """CPU time and page faults of process ``pid`` and its children so far; zeros once it is gone."""
    try:
        proc = psutil.Process(pid)
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return ProcessUsage()
    cpu = system = 0.0
    faults = 0
    for member in members:
        with contextlib.suppress(psutil.Error):
            times = member.cpu_times()
            cpu += times.user + times.system
            system += times.system
            faults += _minor_faults(member.pid)
    return ProcessUsage(cpu, system, faults)


def process_cpu_s(pid: int) -> float:
    """CPU time (user + system) used so far by process ``pid`` and its children; 0 once it is gone."""
    return process_usage(pid).cpu_s


def start_floor(role: str, args: list[str], log_dir: Path) -> FloorServer:
    """One bare server of :mod:`tests.bench.floor` in its own process group, once healthy."""
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"floor-{role}.log", "ab") as log:
        proc = guard.popen(
            [sys.executable, "-m", "tests.bench.floor", role, str(port), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"bare {role} server exited with {proc.returncode}: see {log_dir}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return FloorServer(url, proc)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"bare {role} server not healthy after 60 s")


def section(results: dict[str, Any], name: str) -> Any:
    """Run one section; an error is recorded (``results["errors"]``) and shown as a missed figure, the
    other sections still run. Interrupts and exits are not caught."""

    @contextlib.contextmanager
    def guarded() -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            results.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
            print(f"bench: section {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)

    return guarded()


PAUSE_LIMIT_S = 300.0


def pause_if_asked(name: str) -> None:
    """``BENCH_PAUSE_IN=<section>``: wait there (at most :data:`PAUSE_LIMIT_S`) once the section's processes
    run, so a test's signal lands inside the section however loaded the machine is: sent "once the processes
    run", it could arrive after a quick section had finished (tests/bench/test_guard.py)."""
    if os.environ.get("BENCH_PAUSE_IN") != name:
        return
    print(f"bench: paused in section {name}", flush=True)
    time.sleep(PAUSE_LIMIT_S)  # a signal ends it: Ctrl-C raises here, SIGTERM through the guard


def run_hops(results: dict[str, Any], ctrl: str, floor_dir: Path, log_dir: Path, quick: bool) -> None:
    floor_dir.mkdir(parents=True, exist_ok=True)
    floor = start_floor("hop", [str(floor_dir)], log_dir)
    pause_if_asked("hop")
    with load_window(results, "hop"):
        dayu, bare = asyncio.run(hop_overhead(ctrl, [0.1, 1.0, 5.0], rounds=30 if quick else 200, floor_url=floor.url))
    hops, floors = summarise(dayu), summarise(bare)
    results["hop_overhead_ms_p50"] = {k: v["p50"] for k, v in hops.items()}
    results["hop_overhead_ms_p95"] = {k: v["p95"] for k, v in hops.items()}
    results["hop_floor_ms_p50"] = {k: v["p50"] for k, v in floors.items()}
    results["hop_floor_ms_p95"] = {k: v["p95"] for k, v in floors.items()}
    results["hop_ratio_vs_floor"] = {k: round(hops[k]["p50"] / floors[k]["p50"], 3) for k in hops}
    shutil.rmtree(floor_dir, ignore_errors=True)


def workload_usage(rt: LocalRuntime, name: str) -> ProcessUsage:
    """CPU time and page faults so far of workload ``name`` and its children."""
    for record in rt.records():
        proc = record.process() if record.name == name else None
        if proc is not None:
            return process_usage(proc.pid)
    raise LookupError(f"no running workload {name!r}")


def cpu_seconds(rt: LocalRuntime, name: str) -> float:
    """CPU time (user + system) used so far by workload ``name`` and its children."""
    return workload_usage(rt, name).cpu_s


def own_cpu_s() -> float:
    """CPU time of the bench process itself (its closed loop: submitting and polling), children excluded."""
    times = psutil.Process().cpu_times()
    return times.user + times.system


class CpuMeter:
    """CPU time of named processes, and of every core on the machine, over one timed block."""

    def __init__(self, sources: dict[str, Callable[[], float]]) -> None:
        self.sources = sources
        self.start = {name: read() for name, read in sources.items()}
        self.machine = psutil.cpu_times()

    def per_task_ms(self, tasks: int) -> dict[str, float]:
        used = {name: read() - self.start[name] for name, read in self.sources.items()}
        return {name: round(seconds * 1000 / max(1, tasks), 2) for name, seconds in used.items()}

    def busy_share(self) -> float | None:
        """Share of all cores busy since the meter started (everything on the machine)."""
        return busy_share(self.machine, psutil.cpu_times())


def connections_by_listener(rt: LocalRuntime, name: str) -> dict[str, float]:
    """Connections ``name`` accepted so far, by listener (``dayu_connections_total``): on one node the
    pipeline's own calls go through Unix sockets, and this shows whether they did; ``tcp`` counts the
    bench's calls, health checks and metrics."""
    text = httpx.get(rt.url(name) + "/metrics", timeout=10).text
    pattern = r'dayu_connections_total\{listener="(\w+)"\} ([0-9.e+]+)'
    return {m[1]: float(m[2]) for m in re.finditer(pattern, text)}


def run_passthrough(results: dict[str, Any], rt: LocalRuntime, tag: str, quick: bool) -> None:
    ctrl, dist, work, log_dir = rt.url("controller-cloud"), rt.url("distributor"), rt.work_dir("cloud"), rt.log_dir
    small = face_frames(4, (426, 240))
    n_pass = 100 if quick else 600
    seg_pass = []
    for i in range(n_pass):
        path = work / f"pass-{tag}-{i}.mp4"
        write_segment(path, small)
        seg_pass.append(path)
    two_stage = {
        "stages": [
            {"name": "p1", "service": "passthrough", "next": ["p2"]},
            {"name": "p2", "service": "passthrough"},
        ]
    }
    worker = start_floor("worker", [str(work)], log_dir)
    sink = start_floor("sink", [], log_dir)
    entry = start_floor("entry", [worker.url, sink.url], log_dir)

    failures: list[int] = []
    chain_cpu: list[dict[str, float]] = []
    chain_busy: list[float | None] = []

    def floor_rate(run: str) -> float:
        source = f"chain-{tag}-{run}"  # the same task bodies as Dayu's run, under a source of their own
        bodies = [make_task(two_stage, i, seg.name, source=source).to_json().encode() for i, seg in enumerate(seg_pass)]
        meter = CpuMeter({"entry": entry.cpu_s, "worker": worker.cpu_s, "sink": sink.cpu_s, "bench": own_cpu_s})
        elapsed, done, failed = asyncio.run(
            floor.chain_floor(entry.url, sink.url, bodies, source, window=PASS_WINDOW, poll_s=PASS_POLL_S)
        )
        chain_cpu.append(meter.per_task_ms(done + failed))
        chain_busy.append(meter.busy_share())
        failures.append(failed)
        return done / elapsed

    # The bare chain runs right before and right after Dayu's: the mean is the floor, so load drifting
    # during the run weighs on both sides alike.
    with load_window(results, "passthrough"):
        before = floor_rate("a")
        meter = CpuMeter(
            {**{name: functools.partial(cpu_seconds, rt, name) for name in PASS_COMPONENTS}, "bench": own_cpu_s}
        )
        passed = asyncio.run(
            closed_loop(ctrl, dist, two_stage, f"pass-{tag}", seg_pass, window=PASS_WINDOW, poll_s=PASS_POLL_S)
        )
        cpu_ms = meter.per_task_ms(passed.results + passed.dropped)
        busy = meter.busy_share()
        after = floor_rate("b")
    results["passthrough_tasks_per_s"] = throughput(passed)
    results["passthrough_results"] = passed.results
    results["passthrough_drops"] = passed.drops
    results["passthrough_window"] = PASS_WINDOW
    results["passthrough_latency_ms_mean"] = round((passed.mean_latency_s or float("nan")) * 1000, 2)
    results["passthrough_cpu_ms_per_task"] = cpu_ms
    results["passthrough_cpu_busy_share"] = busy
    results["passthrough_connections"] = {name: connections_by_listener(rt, name) for name in PASS_COMPONENTS}
    results["chain_floor_tasks_per_s"] = round((before + after) / 2, 1)
    results["chain_floor_before_after"] = [round(before, 1), round(after, 1)]
    results["chain_floor_failures"] = sum(failures)  # lost in the bare chain (connection errors): not counted
    results["chain_floor_cpu_ms_per_task"] = {
        name: round(statistics.mean(run[name] for run in chain_cpu), 2) for name in chain_cpu[0]
    }
    results["chain_floor_cpu_busy_share"] = chain_busy
    results["passthrough_ratio_vs_floor"] = round(results["passthrough_tasks_per_s"] / ((before + after) / 2), 3)
    results["passthrough_cpu_accounting"] = cpu_accounting(
        results["passthrough_tasks_per_s"], cpu_ms, busy, results["chain_floor_tasks_per_s"], chain_cpu, chain_busy
    )


def cpu_accounting(
    rate: float,
    cpu_ms: dict[str, float],
    busy: float | None,
    floor_rate: float,
    chain_cpu: list[dict[str, float]],
    chain_busy: list[float | None],
) -> dict[str, float | None]:
    """Where the passthrough ratio comes from. Both loops are bound by the machine's cores, so
    tasks/s = busy cores x 1000 / CPU ms per task. The ratio splits into what each task costs
    (``cpu_ratio``: the bare chain's CPU per task over Dayu's, every process on both sides, the bench's
    closed loop included) and how much of the machine each side kept busy (``busy_ratio``). The rest
    (``unexplained``) is CPU neither side's processes account for (other work on the machine)."""
    cores = os.cpu_count() or 1
    dayu_ms = sum(cpu_ms.values())
    chain_ms = statistics.mean(sum(run.values()) for run in chain_cpu)
    shares = [s for s in chain_busy if s is not None]
    out: dict[str, float | None] = {
        "dayu_cpu_ms_per_task": round(dayu_ms, 2),
        "chain_cpu_ms_per_task": round(chain_ms, 2),
        "cpu_ratio": round(chain_ms / dayu_ms, 3) if dayu_ms > 0 else None,
        # The rate Dayu would reach with every core busy on this work alone: its CPU bound on this machine.
        "dayu_cpu_bound_tasks_per_s": round(cores * 1000 / dayu_ms, 1) if dayu_ms > 0 else None,
        "chain_cpu_bound_tasks_per_s": round(cores * 1000 / chain_ms, 1) if chain_ms > 0 else None,
        "busy_ratio": None,
        "dayu_cores_on_its_processes": round(rate * dayu_ms / 1000, 2),
        "chain_cores_on_its_processes": round(floor_rate * chain_ms / 1000, 2),
    }
    if busy and shares:
        out["busy_ratio"] = round(busy / statistics.mean(shares), 3)
    return out


def run(results: dict[str, Any], run_dir: Path, *, quick: bool = False, sections: Iterable[str] = SECTIONS) -> None:
    wanted = set(sections)
    if not wanted & set(SECTIONS):
        return
    tag = uuid.uuid4().hex[:6]  # this run's sources: records of earlier runs can never be counted
    rt = LocalRuntime(run_dir)
    rt.stop(timeout=5)
    shutil.rmtree(run_dir / "nodes", ignore_errors=True)  # earlier runs' segments and result database
    results["machine"]["load_avg_before"] = [round(x, 2) for x in os.getloadavg()]
    rt.start({"cloud": {"role": "cloud"}}, [], workloads(), timeout=90)
    with guard.runtime(rt):
        ctrl, dist = rt.url("controller-cloud"), rt.url("distributor")
        work = rt.work_dir("cloud")
        if "hop" in wanted:
            with section(results, "hop"):
                run_hops(results, ctrl, run_dir / "floor-hop", rt.log_dir, quick)
        if "passthrough" in wanted:
            with section(results, "passthrough"):
                run_passthrough(results, rt, tag, quick)
        if "face" in wanted:
            with section(results, "face"):
                n_face = 20 if quick else 60
                seg_face = []
                frames = face_frames(4)
                for i in range(n_face):
                    path = work / f"face-{tag}-{i}.mp4"
                    write_segment(path, frames)
                    seg_face.append(path)
                for t in face_thread_counts():
                    with load_window(results, f"face_{t}t"):
                        face_throughput(results, ctrl, dist, f"face-{t}t-{tag}", seg_face, t)
        if "schedule" in wanted:
            with section(results, "schedule"), load_window(results, "schedule"):
                sched = asyncio.run(schedule_latency(rt.url("scheduler"), rounds=200 if quick else 1000))
                results["schedule_ms_p50"] = sched["rtt_p50"]
                results["schedule_ms_p99"] = sched["rtt_p99"]
                results["schedule_decision_ms_p50"] = sched["decision_p50"]
                results["schedule_decision_ms_p99"] = sched["decision_p99"]
        results["rss_mb"] = rss_mb(rt)
        results["controller_status"] = httpx.get(ctrl + "/status").json()
        results["machine"]["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]


def dump(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True, default=str))
