"""Helpers of the end-to-end tests and benchmarks: test videos, a one-cloud-two-edge deployment, waits."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np

from common.workload import Workload

T = TypeVar("T")

CATALOG: dict[str, dict[str, str]] = {
    "face-detection": {"input": "frame", "output": "bbox"},
    "obj-stats": {"input": "any", "output": "any"},
    "passthrough": {"input": "any", "output": "any"},
}
APPLICATIONS = {"face-detection": "face-detection", "obj-stats": "passthrough", "passthrough": "passthrough"}

FORK_JOIN_DAG: dict[str, Any] = {
    "stages": [
        {"name": "face", "service": "face-detection", "next": ["stats", "pass"]},
        {"name": "stats", "service": "obj-stats", "next": ["collect"]},
        {"name": "pass", "service": "passthrough", "next": ["collect"]},
        {"name": "collect", "service": "passthrough"},
    ]
}
NODES = {"cloud": {"role": "cloud"}, "edge1": {"role": "edge"}, "edge2": {"role": "edge"}}
LINKS = [
    {"a": "cloud", "b": "edge1", "bandwidth_mbps": 200, "latency_ms": 2},
    {"a": "cloud", "b": "edge2", "bandwidth_mbps": 100, "latency_ms": 4},
    {"a": "edge1", "b": "edge2", "bandwidth_mbps": 200, "latency_ms": 1},
]


def face_image() -> np.ndarray:
    """A real face (scikit-image's astronaut, shipped in the wheel) as a BGR image."""
    from skimage import data

    rgb = np.asarray(data.astronaut())  # type: ignore[no-untyped-call]
    return np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def write_video(path: Path, *, frames: int, fps: float = 10.0, size: tuple[int, int] = (640, 360)) -> Path:
    """An MP4 of a face moving across a plain scene, ``frames`` long."""
    width, height = size
    face = cv2.resize(face_image(), (height, height))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write mp4v here"
    try:
        for i in range(frames):
            scene = np.full((height, width, 3), (90, 120, 60), np.uint8)
            x = (i * 7) % max(1, width - face.shape[1] + 1)
            y = (height - face.shape[0]) // 2
            scene[y : y + face.shape[0], x : x + face.shape[1]] = face
            writer.write(scene)
    finally:
        writer.release()
    return path


STARTUP_META: dict[str, Any] = {"resolution": "240p", "fps": 10.0, "encoding": "mp4v", "buffer_size": 4}
POLICY_META: dict[str, Any] = {**STARTUP_META, "resolution": "360p"}
"""Knobs the scheduler's agents are configured with: a segment made at 360p was made under the policy's plan
(and the test face, too small for the detector at 240p, is found at 360p)."""


def generator_config(
    source_id: str, video: Path, offload: dict[str, str], *, buffer_size: int = 4, fps: float = 10.0, **extra: Any
) -> dict[str, Any]:
    return {
        "source_id": source_id,
        "source": {"alias": "file", "params": {"path": str(video)}},
        "dag": FORK_JOIN_DAG,
        "services": CATALOG,
        "startup_plan": {**STARTUP_META, "fps": fps, "buffer_size": buffer_size},
        "startup_offload": offload,
        "schedule_interval": 0.0,
        "plan_timeout_s": 0.5,
        **extra,
    }


def processor_workloads(node: str, *, threads: int = 1) -> list[Workload]:
    out = []
    for service, application in APPLICATIONS.items():
        out.append(
            Workload(
                name=f"proc-{service}-{node}",
                component="processor",
                node=node,
                service=service,
                config={
                    "service": service,
                    "application": {"alias": application, "params": {"threads": threads}},
                    "warmup": False,
                },
            )
        )
    return out


def scheduler_workload(policy: str) -> Workload:
    """The real scheduler with ``policy`` as its agent; its knobs differ from the generators' startup plan."""
    return Workload(
        name="scheduler",
        component="scheduler",
        node="cloud",
        stage=1,
        config={"agent": {"alias": policy, "params": {"meta": POLICY_META}}, "startup": {"meta": STARTUP_META}},
    )


def deployment(
    mode: str,
    videos: dict[str, tuple[str, Path]],
    *,
    controller: dict[str, Any] | None = None,
    generator_extra: dict[str, Any] | None = None,
    with_scheduler: bool = False,
) -> list[Workload]:
    """Workloads for ``mode`` (``cloud-only`` or ``edge-only``); ``videos``: source id -> (edge node, file).

    Without the scheduler the generators keep a startup plan that places the stages as ``mode`` would.
    With it, the scheduler runs ``mode`` as its policy and the startup plan places every stage the other
    way round, so stages that end up where ``mode`` wants them were put there by the policy.
    """
    workloads = [
        Workload(
            name="distributor", component="distributor", node="cloud", stage=1, config={"feedback": with_scheduler}
        ),
    ]
    if with_scheduler:
        workloads.append(scheduler_workload(mode))
    for node in NODES:
        workloads.append(
            Workload(name=f"controller-{node}", component="controller", node=node, config=controller or {})
        )
    processor_nodes = ["cloud"] if mode == "cloud-only" else sorted({node for node, _ in videos.values()})
    for node in processor_nodes:
        workloads.extend(processor_workloads(node))
    for source_id, (node, video) in videos.items():
        policy_target = "cloud" if mode == "cloud-only" else node
        startup_target = policy_target if not with_scheduler else ("cloud" if policy_target != "cloud" else node)
        offload = {stage["name"]: startup_target for stage in FORK_JOIN_DAG["stages"]}
        workloads.append(
            Workload(
                name=f"gen-{source_id}",
                component="generator",
                node=node,
                source_id=source_id,
                config=generator_config(source_id, video, offload, **(generator_extra or {})),
            )
        )
    return workloads


def wait_until(check: Callable[[], T | None], *, timeout: float, interval: float = 0.2, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (last: {last!r})")
