"""Live-stream figures: the end-to-end latency budget (``e2e_ratio_vs_bound``) and scaling with the number
of streams (``scale``), on the local runtime with one cloud and one edge node joined by a shaped link, with
real generators replaying a 720p video at 5 fps in real time.

Past the node's capacity the generators are told by their controller to make fewer segments and shed the
rest before encoding them (drop records ``shed``); each scale row splits the offered segments into those
delivered, those shed and those lost after encoding, the shed ones by the admission reason they carry
(``shed_by_reason``), counts the frames the sources decoded and skipped (``source_frames``), and
``scale.overload_ratio`` says how much of the best throughput is kept at 1.5x the bound and beyond.

Each task's delay is the distributor's wall clock when the result is stored minus the generator's when
the task was made (when its segment's last frame was read: each frame is encoded as it is read; one
machine, one clock). Its lower bound is what the work itself costs, each part measured alone in the bench
process on the same frames in the same run: encode + segment bytes / link rate + the link's latency (when
the stage runs on the cloud) + decode + model time.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import psutil

from backend.local_runtime.runtime import LocalRuntime
from common.workload import Workload
from services.controller.admission import pressure_key
from tests.bench import guard
from tests.bench.dataplane import workload_usage
from tests.bench.measure import load_window, percentile
from tests.e2e.cluster import face_image

SIZE = (1280, 720)
FPS = 5.0
BUFFER = 4
LINK_MBPS, LINK_MS = 40.0, 5.0
LINK: dict[str, Any] = {"a": "cloud", "b": "edge1", "bandwidth_mbps": LINK_MBPS, "latency_ms": LINK_MS}
NODES = {"cloud": {"role": "cloud"}, "edge1": {"role": "edge"}}
CATALOG = {
    "face-detection": {"input": "frame", "output": "bbox"},
    "passthrough": {"input": "any", "output": "any"},
}


def write_video(path: Path, frames: int = 40) -> Path:
    """A 720p MP4 at 5 fps of a face moving across a plain scene (the same scene for every stream)."""
    width, height = SIZE
    face = cv2.resize(face_image(), (240, 240))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (width, height))
    for i in range(frames):
        scene = np.full((height, width, 3), (90, 120, 60), np.uint8)
        x, y = (i * 23) % (width - 240), 240
        scene[y : y + 240, x : x + 240] = face
        writer.write(scene)
    writer.release()
    return path


def video_frames(path: Path, n: int = BUFFER) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    while len(frames) < n:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def alone_costs(video: Path, *, threads: int = 1, rounds: int = 10) -> dict[str, float]:
    """Median milliseconds per segment of ``BUFFER`` 720p frames for encode (the generator's OpenCV
    encoder), decode (the processor's) and the face model (the processor's application), each alone, with
    ``threads`` OpenCV threads."""
    import services.generator.encoder  # (declares the encoder modules)
    import services.processor.application  # noqa: F401
    from common.registry import REGISTRY
    from common.task import Meta
    from services.processor.decode import decode_segment

    cv2.setNumThreads(threads)
    frames = video_frames(video)
    encoder = REGISTRY.create("encoder", "opencv", {})
    app = REGISTRY.create("application", "face-detection", {"threads": threads})
    app.load()
    meta = Meta(resolution="720p", fps=FPS, buffer_size=BUFFER)
    enc, dec, model = [], [], []
    with tempfile.TemporaryDirectory(prefix="dayu-bench-alone-") as tmp:
        target = Path(tmp) / "segment.mp4"
        for i in range(rounds + 2):
            t0 = time.perf_counter()
            size = encoder.encode(frames, FPS, meta, target)
            t1 = time.perf_counter()
            decoded = decode_segment(target, max_frames=64)
            t2 = time.perf_counter()
            app.process(decoded, None)
            t3 = time.perf_counter()
            if i >= 2:  # warm-up
                enc.append((t1 - t0) * 1000)
                dec.append((t2 - t1) * 1000)
                model.append((t3 - t2) * 1000)
    return {
        "encode_ms": round(statistics.median(enc), 2),
        "decode_ms": round(statistics.median(dec), 2),
        "model_ms": round(statistics.median(model), 2),
        "segment_bytes": size,
        "frames": len(frames),
        "threads": threads,
    }


def _generator(source: str, video: Path, dag: dict[str, Any], offload: dict[str, str], **extra: Any) -> Workload:
    return Workload(
        name=f"gen-{source}",
        component="generator",
        node="edge1",
        source_id=source,
        config={
            "source_id": source,
            "source": {"alias": "file", "params": {"path": str(video), "loop": True}},
            "dag": dag,
            "services": CATALOG,
            "startup_plan": {"resolution": "720p", "fps": FPS, "encoding": "mp4v", "buffer_size": BUFFER},
            "startup_offload": offload,
            "schedule_interval": 3600.0,
            "plan_timeout_s": 0.2,
            **extra,
        },
    )


def _processor(service: str, application: str, node: str, threads: int) -> Workload:
    return Workload(
        name=f"proc-{service}-{node}",
        component="processor",
        node=node,
        service=service,
        config={"service": service, "application": {"alias": application, "params": {"threads": threads}}},
    )


def _base() -> list[Workload]:
    return [
        Workload(name="distributor", component="distributor", node="cloud", stage=1, config={"feedback": False}),
        Workload(name="controller-cloud", component="controller", node="cloud", config={}),
        Workload(name="controller-edge1", component="controller", node="edge1", config={}),
    ]


def _records(dist: str, source: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = 0
    with httpx.Client(timeout=60) as client:
        while True:
            page = client.get(f"{dist}/results", params={"after": after, "source_id": source, "limit": 1000}).json()
            out.extend(page["records"])
            if not page["records"]:
                return out
            after = page["cursor"]


def _counts(dist: str) -> dict[str, tuple[int, int]]:
    return {s: (results, sum(drops.values())) for s, (results, drops) in _by_reason(dist).items()}


def _by_reason(dist: str) -> dict[str, tuple[int, dict[str, int]]]:
    """Per source: results stored and drop records by reason, as the distributor counts them."""
    sources = httpx.get(f"{dist}/stats", timeout=30).json()["sources"]
    return {
        s: (int(e.get("results", 0)), {k: int(v) for k, v in e.get("drops", {}).items()}) for s, e in sources.items()
    }


def shed_by_reason(records: list[dict[str, Any]], t0: float, t1: float) -> dict[str, int]:
    """Drop records ``shed`` stored between ``t0`` and ``t1`` (records as ``GET /results`` pages them), by the
    admission reason their message quotes, as ``<node>:<codes>`` (``services/controller/admission.py``,
    ``pressure_key``): which node's share cut the sources, and whether by a cut just made or while growing
    back from one."""
    keys: dict[str, int] = {}
    for record in records:
        drop = record.get("drop") or {}
        if record.get("kind") == "drop" and drop.get("reason") == "shed" and t0 <= record["stored_at"] <= t1:
            key = pressure_key(drop.get("message", ""))
            keys[key] = keys.get(key, 0) + 1
    return dict(sorted(keys.items()))


def _source_frames(rt: LocalRuntime, names: list[str]) -> dict[str, int]:
    """Frames the generators' sources handed over, summed: with their image decoded, and skipped without it
    (shed segments), from each generator's ``/status``."""
    total = {"decoded": 0, "skipped": 0}
    with httpx.Client(timeout=30) as client:
        for name in names:
            if _type_of(name) == "generator":
                status = client.get(f"{rt.url(name)}/status").json()
                total["decoded"] += int(status.get("source_images_decoded", 0))
                total["skipped"] += int(status.get("source_frames_skipped", 0))
    return total


def _wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")


def delay_parts(task: dict[str, Any], delay_ms: float) -> dict[str, float]:
    """Where one task's delay went, from the stage timings it carries (one machine, so one clock): getting
    the segment to the stage's node (``transmit``: link wait + the body's arrival), the processor's queue,
    decode and model call, the rest of the processor hand-off (HTTP and parsing: ``execute`` minus those),
    and what lies outside the stage (encoding and writing the segment, the first hop's send, the
    controller's routing and the result's hop to the distributor)."""
    timings = task["dag"]["face"]["timings"]
    transmit = (timings.get("transmit") or 0.0) * 1000
    execute = (timings.get("execute") or 0.0) * 1000
    queue = (timings.get("queue") or 0.0) * 1000
    model = (timings.get("service") or 0.0) * 1000
    decode = ((task["dag"]["face"].get("result") or {}).get("extra", {}).get("decode_s") or 0.0) * 1000
    return {
        "transmit": transmit,
        "queue": queue,
        "decode": decode,
        "model": model,
        "handoff_rest": max(0.0, execute - queue - decode - model),
        "outside_stage": max(0.0, delay_ms - transmit - execute),
    }


def run_e2e(results: dict[str, Any], run_dir: Path, *, quick: bool = False) -> None:
    """Default DAG (one face-detection stage), first on the edge node, then offloaded to the cloud."""
    tasks = 10 if quick else 30
    shutil.rmtree(run_dir, ignore_errors=True)
    rt = LocalRuntime(run_dir)
    video = write_video(Path(tempfile.mkdtemp(prefix="dayu-bench-video-")) / "v720.mp4")
    dag = {"stages": [{"name": "face", "service": "face-detection"}]}
    infra = [*_base(), _processor("face-detection", "face-detection", "edge1", 1)]
    infra.append(_processor("face-detection", "face-detection", "cloud", 1))
    out: dict[str, Any] = {"link": LINK, "tasks_per_placement": tasks}
    with guard.runtime(rt):
        rt.start(NODES, [LINK], infra, timeout=180)
        dist = rt.url("distributor")
        with load_window(results, "e2e_alone"):
            alone = alone_costs(video)
        out["alone_ms_per_segment"] = alone
        ratios: dict[str, Any] = {}
        for placement in ("edge1", "cloud"):
            source = f"e2e-{placement}"
            gen = _generator(source, video, dag, {"face": placement}, max_tasks=tasks + 2)
            with load_window(results, f"e2e_{placement}"):
                rt.apply(NODES, [LINK], [*infra, gen], timeout=180)
                _wait(lambda s=source: sum(_counts(dist).get(s, (0, 0))) >= tasks + 2, 120 + tasks * 3, source)
            records = _records(dist, source)
            rt.apply(NODES, [LINK], infra, timeout=60)
            got = sorted((r for r in records if r["kind"] == "result"), key=lambda r: r["task"]["task_id"])[2:]
            drops = sum(1 for r in records if r["kind"] != "result")
            figure: dict[str, Any] = {"results": len(got), "drops": drops}
            if got:
                per_task = []
                parts: list[dict[str, float]] = []
                for record in got:
                    task = record["task"]
                    delay_ms = (task["finished_at"] - task["created_at"]) * 1000
                    # What must cross the edge-cloud link: the segment when the stage runs on the cloud, the
                    # result (the task alone) when it ran on the edge; either way once, with the link's latency.
                    if placement == "cloud":
                        size = task["payload"]["size_bytes"] or alone["segment_bytes"]
                    else:
                        size = len(json.dumps(task).encode())
                    link_ms = size * 8 / (LINK_MBPS * 1e6) * 1000 + LINK_MS
                    bound = alone["encode_ms"] + link_ms + alone["decode_ms"] + alone["model_ms"]
                    per_task.append((delay_ms, bound))
                    parts.append(delay_parts(task, delay_ms))
                ratio = [d / b for d, b in per_task]
                figure.update(
                    {
                        "p50": round(percentile(ratio, 50), 3),
                        "p95": round(percentile(ratio, 95), 3),
                        "delay_ms_p50": round(percentile([d for d, _ in per_task], 50), 1),
                        "delay_ms_p95": round(percentile([d for d, _ in per_task], 95), 1),
                        "bound_ms_p50": round(percentile([b for _, b in per_task], 50), 1),
                        "parts_ms_p50": {k: round(percentile([p[k] for p in parts], 50), 1) for k in parts[0]},
                    }
                )
            ratios["edge" if placement == "edge1" else "cloud"] = figure
    shutil.rmtree(video.parent, ignore_errors=True)
    results["e2e_ratio_vs_bound"] = ratios
    results["e2e_budget"] = out


STREAM_COUNTS = [1, 2, 4, 6, 8, 10, 12, 16]
"""Steps of 2 around where a two-core node tops out (10-12 streams), so the figure does not move in steps of
2x; the counts at 1.5x and 2x the measured bound, where ``overload_ratio`` is judged, are added to them."""
OVERLOAD_FROM = 1.5
"""Counts at or above this multiple of the bound are the overload that ``overload_ratio`` judges."""
OVERLOAD_AT = (OVERLOAD_FROM, 2.0)


def stream_counts(quick: bool, bound: float) -> list[int]:
    """``BENCH_SCALE`` when set; else the fixed steps and the counts at 1.5x and 2x ``bound`` (which moves
    with the machine: 10.5 streams on one two-core machine, 15 on another)."""
    raw = os.environ.get("BENCH_SCALE")
    if raw:
        return sorted({int(x) for x in raw.split(",") if x.strip()})
    if quick:
        return [1, 2, 4]
    return sorted({*STREAM_COUNTS, *(math.ceil(x * bound) for x in OVERLOAD_AT)})


def overload_ratio(rows: dict[str, dict[str, Any]], bound: float) -> dict[str, Any] | None:
    """The lowest results/s at the counts at or above ``OVERLOAD_FROM`` x ``bound``, over the best results/s at
    any count: 1 when overload costs nothing, near 0 when a run collapses. None without such a count."""
    rates = {int(n): float(row["results_per_s"]) for n, row in rows.items()}
    over = sorted(n for n in rates if n >= OVERLOAD_FROM * bound)
    best = max(rates.values(), default=0.0)
    if not over or best <= 0:
        return None
    worst = min(over, key=lambda n: rates[n])
    return {
        "ratio": round(rates[worst] / best, 3),
        "counts": over,
        "worst_count": worst,
        "best_count": max(rates, key=lambda n: rates[n]),
        "best_results_per_s": best,
        "max_x_bound": round(max(over) / bound, 2),
    }


COMPONENT_TYPES = {"generator": "gen-", "controller": "controller-", "distributor": "distributor"}


def _type_of(name: str) -> str:
    if name.startswith("proc-"):
        return "processor"
    for kind, prefix in COMPONENT_TYPES.items():
        if name.startswith(prefix):
            return kind
    return name


def _rss_by_type(rt: LocalRuntime) -> dict[str, float]:
    """Mean RSS (MB) per component type; processors by application (service)."""
    groups: dict[str, list[float]] = {}
    for record in rt.records():
        proc = record.process()
        if proc is None:
            continue
        try:
            rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
        except psutil.Error:
            continue
        kind = _type_of(record.name)
        key = record.name.rsplit("-", 1)[0] if kind == "processor" else kind
        groups.setdefault(key, []).append(rss / 1024 / 1024)
    return {k: round(max(v), 1) for k, v in sorted(groups.items())}


def run_scale(results: dict[str, Any], run_dir: Path, *, quick: bool = False) -> None:
    """N sources on the edge node at 5 fps 720p; face detection on the edge, passthrough on the cloud."""
    window_s = 12.0 if quick else 30.0
    cores = psutil.cpu_count() or 1
    video = write_video(Path(tempfile.mkdtemp(prefix="dayu-bench-video-")) / "v720.mp4")
    dag = {
        "stages": [
            {"name": "face", "service": "face-detection", "next": ["pass"]},
            {"name": "pass", "service": "passthrough"},
        ]
    }
    with load_window(results, "scale_alone"):
        alone = alone_costs(video)
    per_frame = (alone["encode_ms"] + alone["decode_ms"] + alone["model_ms"]) / alone["frames"]
    bound = cores * 1000 / per_frame / FPS
    counts = stream_counts(quick, bound)
    offered = FPS / BUFFER  # segments per second per stream
    rows: dict[str, Any] = {}
    scale: dict[str, Any] = {
        "streams": rows,
        "streams_bound": round(bound, 2),
        "alone_ms_per_segment": alone,
        "tested": counts,
    }
    results["scale"] = scale  # filled as each count finishes: a failure later keeps what was measured
    for n in counts:
        shutil.rmtree(run_dir, ignore_errors=True)
        rt = LocalRuntime(run_dir)
        sources = [f"scale{n}-{i}" for i in range(n)]
        workloads = [
            *_base(),
            _processor("face-detection", "face-detection", "edge1", cores),
            _processor("passthrough", "passthrough", "cloud", 1),
            *(_generator(s, video, dag, {"face": "edge1", "pass": "cloud"}) for s in sources),
        ]
        with guard.runtime(rt):
            rt.start(NODES, [LINK], workloads, timeout=120 + 20 * n)
            dist = rt.url("distributor")

            # Warm-up: every stream has delivered one result (models loaded, connections open).
            def warm(dist: str = dist, sources: list[str] = sources) -> bool:
                return all(_counts(dist).get(s, (0, 0))[0] >= 1 for s in sources)

            _wait(warm, 60 + 10 * n, f"{n} streams")
            names = [r.name for r in rt.records()]
            with load_window(results, f"scale_{n}"):
                usage0 = {name: workload_usage(rt, name) for name in names}
                frames0 = _source_frames(rt, names)
                c0, t0 = _by_reason(dist), time.time()
                time.sleep(window_s)
                c1, t1 = _by_reason(dist), time.time()
                frames1 = _source_frames(rt, names)
                usage1 = {name: workload_usage(rt, name) for name in names}
            if n == max(counts):
                scale["rss_mb"] = _rss_by_type(rt)
            done = sum(c1.get(s, (0, {}))[0] - c0.get(s, (0, {}))[0] for s in sources)
            reasons: dict[str, int] = {}
            for s in sources:
                was, now = c0.get(s, (0, {}))[1], c1.get(s, (0, {}))[1]
                for reason in now:
                    reasons[reason] = reasons.get(reason, 0) + now[reason] - was.get(reason, 0)
            reasons = {k: v for k, v in sorted(reasons.items()) if v}
            dropped = sum(reasons.values())
            shed = reasons.get("shed", 0)
            delays = []
            shed_keys: dict[str, int] = {}
            for s in sources:
                records = _records(dist, s)
                for record in records:
                    task = record.get("task") or {}
                    if record["kind"] == "result" and task.get("finished_at") and t0 <= task["finished_at"] <= t1:
                        delays.append((task["finished_at"] - task["created_at"]) * 1000)
                for key, count in shed_by_reason(records, t0, t1).items():
                    shed_keys[key] = shed_keys.get(key, 0) + count
            cpu_ms: dict[str, float] = {}
            sys_ms: dict[str, float] = {}
            faults: dict[str, int] = {}
            for name in names:
                kind = _type_of(name)
                before, after = usage0[name], usage1[name]
                cpu_ms[kind] = cpu_ms.get(kind, 0.0) + (after.cpu_s - before.cpu_s) * 1000
                sys_ms[kind] = sys_ms.get(kind, 0.0) + (after.system_s - before.system_s) * 1000
                faults[kind] = faults.get(kind, 0) + after.minor_faults - before.minor_faults
            finished = max(1, done + dropped)
            elapsed = t1 - t0
            offered_segments = n * offered * elapsed
            rows[str(n)] = {
                "results_per_s": round(done / elapsed, 2),
                "offered_per_s": round(n * offered, 2),
                "x_bound": round(n / bound, 2),
                # Shares of the segments the sources offered in the window (N x 5 fps / 4 frames): delivered as
                # results, shed by their generator before encoding (admission), or lost after it (other drops).
                "delivered_share": round(done / offered_segments, 3),
                "shed_share": round(shed / offered_segments, 3),
                "delivered_or_shed_share": round((done + shed) / offered_segments, 3),
                "drops": dropped,
                "drops_by_reason": reasons,
                # The shed records of the window by the admission reason they carry (node:codes): which signal
                # cut the share, on which node, and whether it was cut in that interval or growing back.
                "shed_by_reason": dict(sorted(shed_keys.items())),
                # Frames the sources handed over in the window: decoded, or skipped without their image (the
                # frames of shed segments), so what shedding costs the generators is seen per frame.
                "source_frames": {k: frames1[k] - frames0[k] for k in frames0},
                "drops_after_encoding": dropped - shed,
                "drop_rate": round(dropped / (done + dropped), 3) if done + dropped else 0.0,
                "e2e_ms_p50": round(percentile(delays, 50), 1),
                "e2e_ms_p95": round(percentile(delays, 95), 1),
                # Over the segments finished in the window, results and drops alike: a dropped segment cost the
                # generator its encode and the processors whatever they did before the drop.
                "cpu_ms_per_segment": {k: round(v / finished, 1) for k, v in sorted(cpu_ms.items())},
                # The kernel's part of it, and the page faults behind most of that: memory mapped afresh.
                "sys_ms_per_segment": {k: round(v / finished, 1) for k, v in sorted(sys_ms.items())},
                "minor_faults_per_segment": {k: round(v / finished) for k, v in sorted(faults.items())},
            }
            print(f"bench: scale {n}: {rows[str(n)]}", file=sys.stderr, flush=True)
            # No drops: no drop record, and at least 95 % of the offered segments delivered (a replayed
            # source that cannot keep up waits instead of dropping, so a shortfall counts as a drop too).
            fine = [int(k) for k, row in rows.items() if row["drops"] == 0 and row["delivered_share"] >= 0.95]
            scale["max_streams_no_drops"] = max(fine, default=0)
            scale["max_streams_ratio_vs_bound"] = round(scale["max_streams_no_drops"] / bound, 3)
            # Streams' worth of segments actually delivered (results/s over one stream's rate): says how far
            # the node got when no count is free of drops, as on an overloaded machine.
            scale["delivered_streams_max"] = round(max(r["results_per_s"] for r in rows.values()) / offered, 2)
            scale["delivered_streams_ratio_vs_bound"] = round(scale["delivered_streams_max"] / bound, 3)
            overload = overload_ratio(rows, bound)
            if overload is not None:
                scale["overload_ratio"] = overload["ratio"]
                scale["overload"] = overload
    shutil.rmtree(video.parent, ignore_errors=True)
    plot(scale, run_dir.parent / "scale.png")


def plot(scale: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = sorted(int(n) for n in scale["streams"])
    rows = [scale["streams"][str(n)] for n in ns]
    fig, left = plt.subplots(figsize=(7, 4))
    left.plot(ns, [r["e2e_ms_p50"] for r in rows], "o-", label="e2e p50 (ms)")
    left.plot(ns, [r["e2e_ms_p95"] for r in rows], "s--", label="e2e p95 (ms)")
    left.set_xlabel("streams (720p, 5 fps)")
    left.set_ylabel("latency (ms)")
    left.set_xscale("log", base=2)
    right = left.twinx()
    right.plot(ns, [r["drop_rate"] for r in rows], "r^-", label="drop rate")
    right.plot(ns, [1 - r["delivered_share"] for r in rows], "mv:", label="shortfall (1 - delivered/offered)")
    right.plot(ns, [r.get("shed_share", 0.0) for r in rows], "gx-.", label="shed before encoding / offered")
    right.set_ylabel("share of segments")
    right.set_ylim(0, 1)
    left.axvline(scale["streams_bound"], color="grey", lw=0.8)
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    labels = left.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    left.legend(handles, labels, loc="upper left", fontsize=8)
    left.set_title(f"scaling (bound {scale['streams_bound']} streams)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    scale["plot"] = str(path)
