"""Data-plane benchmarks against real component processes started by the local runtime (one cloud node)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import psutil

from common.dag import DagSpec, ServiceType, build_dag
from common.plan import PlanRequest
from common.task import END, Payload, Task
from common.transport import ServiceClient
from common.workload import Workload
from services.local.runtime import LocalRuntime
from tests.e2e.cluster import face_image

CATALOG = {
    "passthrough": ServiceType(input="any", output="any"),
    "face-detection": ServiceType(input="frame", output="bbox"),
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def workloads(face_threads: int) -> list[Workload]:
    return [
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
        Workload(
            name="proc-face",
            component="processor",
            node="cloud",
            service="face-detection",
            config={
                "service": "face-detection",
                "application": {"alias": "face-detection", "params": {"threads": face_threads}},
            },
        ),
    ]


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


async def hop_overhead(url: str, sizes_mb: list[float], rounds: int) -> dict[str, dict[str, float]]:
    """One node-to-node hop as the controller makes it: PUT the segment, then POST the task JSON (202)."""
    out: dict[str, dict[str, float]] = {}
    spec = {"stages": [{"name": "p", "service": "passthrough"}]}
    async with ServiceClient() as client:
        for size_mb in sizes_mb:
            data = np.random.default_rng(0).integers(0, 255, int(size_mb * 1024 * 1024), np.uint8).tobytes()
            samples = []
            for i in range(rounds + 5):
                name = f"hop-{size_mb}-{i}.bin"
                task = make_task(spec, i, name, source=f"hop-{size_mb}").with_cursor("p").with_cursor(END)
                start = time.perf_counter()
                await client.request("PUT", f"{url}/files/{name}", content=data)
                await client.request(
                    "POST", f"{url}/tasks", content=task.to_json(), headers={"content-type": "application/json"}
                )
                if i >= 5:  # the first calls open connections and warm caches
                    samples.append((time.perf_counter() - start) * 1000)
            out[f"{size_mb:g}MB"] = {
                "p50": round(percentile(samples, 50), 3),
                "p95": round(percentile(samples, 95), 3),
                "n": len(samples),
            }
    return out


async def wait_results(client: ServiceClient, dist: str, source: str, count: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = await client.get_json(f"{dist}/stats")
        entry = stats["sources"].get(source, {})
        done = entry.get("results", 0) + sum(entry.get("drops", {}).values())
        if done >= count:
            return time.perf_counter()
        await asyncio.sleep(0.01)
    raise TimeoutError(f"{source}: only part of {count} tasks finished within {timeout}s")


async def pipeline_rate(
    ctrl: str, dist: str, work: Path, spec: dict[str, Any], source: str, segments: list[Path], concurrency: int
) -> tuple[float, dict[str, Any]]:
    """Tasks submitted at the controller as fast as it takes them; seconds until all are at the distributor."""
    async with ServiceClient(timeout=60) as client:
        sem = asyncio.Semaphore(concurrency)

        async def one(i: int, seg: Path) -> None:
            async with sem:
                task = make_task(spec, i, seg.name, source=source)
                await client.request(
                    "POST", f"{ctrl}/tasks", content=task.to_json(), headers={"content-type": "application/json"}
                )

        start = time.perf_counter()
        await asyncio.gather(*(one(i, s) for i, s in enumerate(segments)))
        end = await wait_results(client, dist, source, len(segments), timeout=300)
        stats = (await client.get_json(f"{dist}/stats"))["sources"][source]
    return end - start, stats


def inprocess_face_rate(segments: list[Path], threads: int) -> float:
    """Frames/s of a plain loop: decode each segment and run the same Haar cascade with the same parameters."""
    cv2.setNumThreads(threads)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")  # type: ignore[attr-defined]
    frames = 0
    start = time.perf_counter()
    for seg in segments:
        cap = cv2.VideoCapture(str(seg))
        while True:
            ok, image = cap.read()
            if not ok:
                break
            gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            cascade.detectMultiScale(gray, scaleFactor=1.2, minNeighbors=5, minSize=(60, 60))
            frames += 1
        cap.release()
    return frames / (time.perf_counter() - start)


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


def run(results: dict[str, Any], run_dir: Path, *, quick: bool = False) -> None:
    threads = max(1, (psutil.cpu_count() or 1))
    rt = LocalRuntime(run_dir)
    rt.stop(timeout=5)
    rt.start({"cloud": {"role": "cloud"}}, [], workloads(threads), timeout=90)
    try:
        ctrl, dist = rt.url("controller-cloud"), rt.url("distributor")
        work = rt.work_dir("cloud")
        hops = asyncio.run(hop_overhead(ctrl, [0.1, 1.0, 5.0], rounds=30 if quick else 200))
        results["hop_overhead_ms_p50"] = {k: v["p50"] for k, v in hops.items()}
        results["hop_overhead_ms_p95"] = {k: v["p95"] for k, v in hops.items()}

        small = face_frames(4, (426, 240))
        n_pass = 100 if quick else 600
        seg_pass = []
        for i in range(n_pass):
            path = work / f"pass-{i}.mp4"
            write_segment(path, small)
            seg_pass.append(path)
        two_stage = {
            "stages": [
                {"name": "p1", "service": "passthrough", "next": ["p2"]},
                {"name": "p2", "service": "passthrough"},
            ]
        }
        elapsed, stats = asyncio.run(pipeline_rate(ctrl, dist, work, two_stage, "pass", seg_pass, concurrency=32))
        results["passthrough_tasks_per_s"] = round(n_pass / elapsed, 1)
        results["passthrough_drops"] = stats.get("drops", {})

        n_face = 20 if quick else 60
        seg_face = []
        frames = face_frames(4)
        for i in range(n_face):
            path = work / f"face-{i}.mp4"
            write_segment(path, frames)
            seg_face.append(path)
        inproc = inprocess_face_rate(seg_face, threads)
        one_stage = {"stages": [{"name": "f", "service": "face-detection"}]}
        elapsed, stats = asyncio.run(pipeline_rate(ctrl, dist, work, one_stage, "face", seg_face, concurrency=4))
        pipeline_fps = n_face * 4 / elapsed
        results["face_inprocess_fps"] = round(inproc, 1)
        results["face_pipeline_fps"] = round(pipeline_fps, 1)
        results["throughput_ratio_vs_inprocess"] = round(pipeline_fps / inproc, 3)

        sched = asyncio.run(schedule_latency(rt.url("scheduler"), rounds=200 if quick else 1000))
        results["schedule_ms_p50"] = sched["rtt_p50"]
        results["schedule_ms_p99"] = sched["rtt_p99"]
        results["schedule_decision_ms_p50"] = sched["decision_p50"]
        results["schedule_decision_ms_p99"] = sched["decision_p99"]
        results["rss_mb"] = rss_mb(rt)
        results["controller_status"] = httpx.get(ctrl + "/status").json()
    finally:
        rt.stop(timeout=10)


def dump(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True, default=str))
