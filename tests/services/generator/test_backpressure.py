"""A slow encoder against a live source and against a replayed one.

The generator runs its real app (TestClient drives its lifespan, its reader and encoder threads are real and
segments are really encoded) against a small real FastAPI app on loopback standing in for its controller and
distributor. Two hooks are registered here for the tests only: ``test-live-camera``, a paced source standing in
for a live camera, and ``test-slow-opencv``, the real OpenCV encoder slowed down on purpose so that encoding
falls behind the camera.
"""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import Field

from common.registry import HookConfig, hook
from common.task import Meta, RawMeta, Task
from services.generator.app import create_app
from services.generator.config import GeneratorConfig, GeneratorSettings
from services.generator.encoder import FrameSink
from services.generator.encoders.opencv import OpenCVEncoder, OpenCVEncoderConfig
from services.generator.source import Frame, FrameSource
from tests.e2e.cluster import wait_until, write_video
from tests.servers import free_port, serve
from tests.services.generator.test_generator import recorder

pytestmark = pytest.mark.integration

CAMERA_FPS = 40.0
CAMERA_FRAMES = 80
ENCODE_DELAY_S = 0.12
"""Per segment: with 2-frame segments the encoder manages ~16 frames/s of the camera's 40."""


class LiveCameraConfig(HookConfig):
    fps: float = Field(CAMERA_FPS, gt=0, description="Frames the camera captures per second.")
    frames: int = Field(CAMERA_FRAMES, ge=1, description="Frames captured before the stream ends.")
    # 200 ms of slack for a reader thread the loaded machine is slow to wake; a reader that waited on the
    # encoder (~16 of 40 frames/s) would still lose about half of the 80 frames.
    buffer: int = Field(8, ge=1, description="Frames the camera holds before it overwrites the oldest.")


@hook("source", "test-live-camera")
class LiveCamera(FrameSource):
    """Stands in for a live camera: it captures frames on its own clock whether or not anyone reads them, and
    holds only ``buffer`` of them; a reader that falls behind loses the oldest ones (counted in ``overrun``)."""

    Config = LiveCameraConfig
    config: LiveCameraConfig

    def __init__(self, config: LiveCameraConfig) -> None:
        super().__init__(config)
        self.next_index = 0
        self.overrun = 0
        self._started = 0.0
        self._stop = threading.Event()

    def open(self) -> RawMeta:
        self._started = time.monotonic()
        return RawMeta(width=160, height=120, fps=self.config.fps)

    def _captured(self) -> int:
        elapsed = time.monotonic() - self._started
        return min(self.config.frames, math.floor(elapsed * self.config.fps) + 1)

    def read(self) -> Frame | None:
        captured = self._captured()
        oldest_held = captured - self.config.buffer
        if self.next_index < oldest_held:
            self.overrun += oldest_held - self.next_index
            self.next_index = oldest_held
        if self.next_index >= self.config.frames:
            return None
        due = self._started + self.next_index / self.config.fps
        wait = due - time.monotonic()
        if wait > 0 and self._stop.wait(wait):
            return None
        index = self.next_index
        self.next_index += 1
        image = np.full((120, 160, 3), index % 256, np.uint8)
        cv2.putText(image, str(index), (10, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (255, 255, 255), 3)
        return Frame(image=image, index=index, timestamp=index / self.config.fps)

    @property
    def paced(self) -> bool:
        return True

    def interrupt(self) -> None:
        self._stop.set()


class SlowEncoderConfig(OpenCVEncoderConfig):
    delay_s: float = Field(ENCODE_DELAY_S, ge=0, description="Extra seconds spent on every segment.")


@hook("encoder", "test-slow-opencv")
class SlowOpenCVEncoder(OpenCVEncoder):
    """The real OpenCV encoder, slowed down on purpose by ``delay_s`` per segment so it falls behind."""

    Config = SlowEncoderConfig
    config: SlowEncoderConfig

    def open_sink(self, path: Path, width: int, height: int, fps: float, meta: Meta) -> FrameSink:
        time.sleep(self.config.delay_s)
        return super().open_sink(path, width, height, fps, meta)


def run(tmp_path: Path, source: dict[str, Any], **config: Any) -> tuple[dict[str, Any], dict[str, list[Any]], Any]:
    """Run the generator until its finite source ends; its final status, what the controller got, and the
    source hook it read."""
    store: dict[str, list[Any]] = {"tasks": [], "drops": [], "plans": []}
    port = free_port()
    topology = {
        "nodes": {
            "cloud": {"role": "cloud", "components": {"distributor": {"port": port}}},
            "edge1": {"role": "edge", "components": {"controller": {"port": port}}},
        }
    }
    generator_config = GeneratorConfig.model_validate(
        {
            "source_id": "cam",
            "source": source,
            "encoder": {"alias": "test-slow-opencv"},
            "startup_plan": {"resolution": "360p", "fps": 60, "encoding": "mp4v", "buffer_size": 2},
            "schedule_interval": 3600,
            "plan_timeout_s": 0.3,
            "submit_retries": 0,
            "max_pending_segments": 2,
            **config,
        }
    )
    settings = GeneratorSettings(node="edge1", topology=json.dumps(topology), work_dir=tmp_path / "work")
    with serve(recorder(store), port), TestClient(create_app(settings, generator_config)) as client:
        status = wait_until(
            lambda: (lambda s: s if s["finished"] else None)(client.get("/status").json()),
            timeout=300,  # a gate that never opens (the regression) costs GATE_TIMEOUT_S per segment
            what="the end of the stream",
        )
        metrics = client.get("/metrics").text
        source_hook = client.app.state.generator.source  # type: ignore[attr-defined]
    status["metrics"] = metrics
    return status, store, source_hook


def metric(metrics: str, name: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(f"dayu_{name} "):
            return float(line.split()[1])
    raise AssertionError(f"dayu_{name} is missing from /metrics")


def skipped_metric(metrics: str) -> float:
    return metric(metrics, "generator_frames_skipped_backpressure_total")


def accounted(status: dict[str, Any], store: dict[str, list[Any]]) -> None:
    ids = [t["task_id"] for t in store["tasks"]] + [d["task_id"] for d in store["drops"]]
    assert sorted(ids) == list(range(status["tasks_created"])), (status, ids)
    assert status["tasks_submitted"] + status["tasks_dropped"] == status["tasks_created"] > 0


def test_a_live_camera_keeps_its_pace_and_frames_the_encoder_cannot_take_are_skipped_and_counted(
    tmp_path: Path,
) -> None:
    status, store, camera = run(tmp_path, {"alias": "test-live-camera"})
    assert status["state"] == "finished", status
    # The reader kept up with the camera: nearly every captured frame was read, few were lost in its buffer.
    # Waiting on the encoder instead would lose about half of them there (it takes ~16 of 40 frames/s).
    assert status["frames_read"] + camera.overrun == CAMERA_FRAMES, (status, camera.overrun)
    assert camera.overrun <= CAMERA_FRAMES // 5, (status, camera.overrun)
    # The encoder fell behind: frames were skipped, counted in /status and in Prometheus alike.
    skipped = status["frames_skipped_backpressure"]
    assert skipped > 0 and skipped == status["frames_read"] - status["frames_kept"], status
    assert skipped_metric(status["metrics"]) == skipped
    # Frames were skipped only because the queue was full of segments the slow encoder had not written (the
    # loopback controller answers at once): so at least one whole segment (buffer_size 2) waited for it, and
    # never more than the bound: (max_pending_segments 2 + the segment being submitted + the one being read)
    # x buffer_size 2. None is left once the stream ended.
    assert 2 <= metric(status["metrics"], "generator_frames_awaiting_encoder_peak") <= (2 + 2) * 2, status["metrics"]
    assert metric(status["metrics"], "generator_frames_awaiting_encoder") == 0
    accounted(status, store)
    tasks = sorted((Task.from_dict(t) for t in store["tasks"]), key=lambda t: t.task_id)
    indices = [i for t in tasks for i in t.payload.frame_indices]
    assert len(indices) == status["frames_kept"] and indices == sorted(set(indices)), indices
    for task in tasks:
        frames = task.payload.frame_indices
        assert frames == sorted(set(frames)) and len(frames) == task.meta.buffer_size, task.payload
        assert (tmp_path / "work" / (task.payload.file_name or "")).stat().st_size == task.payload.size_bytes


def test_a_replayed_file_waits_for_the_slow_encoder_and_loses_no_frame(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", frames=24, fps=40, size=(160, 120))
    status, store, _ = run(tmp_path, {"alias": "file", "params": {"path": str(video)}}, realtime=False)
    assert status["state"] == "finished", status
    assert status["frames_read"] == status["frames_kept"] == 24, status
    assert status["frames_skipped_backpressure"] == 0 and skipped_metric(status["metrics"]) == 0
    accounted(status, store)
    assert status["tasks_dropped"] == 0
    indices = [i for t in sorted(store["tasks"], key=lambda t: t["task_id"]) for i in t["payload"]["frame_indices"]]
    assert indices == list(range(24))


GATE_TIMEOUT_S = 60.0
"""Far beyond any encoder delay on a loaded machine; only encoding deferred to complete segments reaches it."""
WRITTEN: list[tuple[int, float]] = []
"""(frame index, wall clock) of every frame the recording encoder took, in order."""
CLOSED: list[float] = []
"""Wall clock at which each of its segment files was finished."""
WRITTEN_CHANGED = threading.Condition()


@hook("encoder", "test-recording-opencv")
class RecordingOpenCVEncoder(OpenCVEncoder):
    """The real OpenCV encoder, noting when it takes each frame (the index is the frame's pixel value)."""

    Config = OpenCVEncoderConfig
    config: OpenCVEncoderConfig

    def open_sink(self, path: Path, width: int, height: int, fps: float, meta: Meta) -> FrameSink:
        sink = super().open_sink(path, width, height, fps, meta)

        class Recording:
            def write(self, frame: np.ndarray) -> None:
                sink.write(frame)
                with WRITTEN_CHANGED:
                    WRITTEN.append((int(frame[0, 0, 0]), time.time()))
                    WRITTEN_CHANGED.notify_all()

            def close(self) -> None:
                sink.close()
                CLOSED.append(time.time())

        return Recording()


class GatedCameraConfig(HookConfig):
    frames: int = Field(16, ge=1, description="Frames before the stream ends.")
    segment: int = Field(4, ge=2, description="Frames per segment of the generator's plan.")


@hook("source", "test-gated-camera")
class GatedCamera(FrameSource):
    """Hands over a segment's last frame only once the encoder has taken the segment's first one (or after
    ``GATE_TIMEOUT_S``): with encoding deferred to complete segments, every gate would time out."""

    Config = GatedCameraConfig
    config: GatedCameraConfig

    def __init__(self, config: GatedCameraConfig) -> None:
        super().__init__(config)
        self.next_index = 0
        self.gates: list[bool] = []

    def open(self) -> RawMeta:
        return RawMeta(width=160, height=120, fps=10.0)

    def read(self) -> Frame | None:
        index = self.next_index
        if index >= self.config.frames:
            return None
        self.next_index += 1
        if index % self.config.segment == self.config.segment - 1:
            first = index - self.config.segment + 1
            with WRITTEN_CHANGED:
                opened = WRITTEN_CHANGED.wait_for(lambda: any(i == first for i, _ in WRITTEN), GATE_TIMEOUT_S)
            self.gates.append(opened)
        return Frame(image=np.full((120, 160, 3), index, np.uint8), index=index, timestamp=index / 10.0)


def test_frames_are_encoded_as_they_arrive_and_a_task_is_created_when_its_last_frame_is_read(
    tmp_path: Path,
) -> None:
    WRITTEN.clear()
    CLOSED.clear()
    status, store, camera = run(
        tmp_path,
        {"alias": "test-gated-camera"},
        encoder={"alias": "test-recording-opencv"},
        startup_plan={"resolution": "360p", "fps": 10, "encoding": "mp4v", "buffer_size": 4},
        realtime=False,
    )
    assert status["state"] == "finished" and status["tasks_dropped"] == 0, status
    # Each segment's first frame was in the encoder before the segment's last frame was read.
    assert camera.gates == [True] * 4, camera.gates
    assert [i for i, _ in WRITTEN] == list(range(16))
    tasks = sorted(store["tasks"], key=lambda t: t["task_id"])
    assert [t["payload"]["frame_indices"] for t in tasks] == [list(range(k, k + 4)) for k in range(0, 16, 4)]
    for task, closed in zip(tasks, CLOSED, strict=True):
        # created_at is when the segment was complete, before its file was finished (not after encoding it).
        first_written = min(at for i, at in WRITTEN if i in task["payload"]["frame_indices"])
        assert first_written <= task["created_at"] <= closed, (first_written, task["created_at"], closed)
        assert (tmp_path / "work" / task["payload"]["file_name"]).stat().st_size == task["payload"]["size_bytes"]
    assert not list((tmp_path / "work").glob(".enc-*"))  # no temporary left behind


def test_a_generator_removes_its_own_half_written_segments_at_start_and_no_other_sources(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    mine = work / f".enc-cam-{'a' * 32}.mp4"  # left by a process of this source that was killed mid-segment
    theirs = work / f".enc-cam-1-{'b' * 32}.mp4"  # being written by source "cam-1" on the same work dir
    mine.write_bytes(b"half a segment")
    theirs.write_bytes(b"half a segment")
    WRITTEN.clear()
    CLOSED.clear()
    status, store, camera = run(
        tmp_path,
        {"alias": "test-gated-camera", "params": {"frames": 4}},
        encoder={"alias": "test-recording-opencv"},
        startup_plan={"resolution": "360p", "fps": 10, "encoding": "mp4v", "buffer_size": 4},
        realtime=False,
    )
    assert status["state"] == "finished" and len(store["tasks"]) == 1 and camera.gates == [True], status
    assert not mine.exists() and theirs.read_bytes() == b"half a segment"
