"""Shed segments cost no image: their frames are taken with ``FrameSource.skip``, never decoded to BGR, never
seen by the frame filter, and each shed segment still ends as a drop record ``shed`` with its frames.

The sources are the real plugins on real inputs the tests write: a video file read by OpenCV (the ``file``
source, and a live capture opened on that file), and the ``http`` source against a small real HTTP server on
loopback that answers as the datasource does, with bodies made by the same wire module. The generator test
runs the real generator app; its controller is a small real FastAPI app standing in for one whose share is
0.5 (the reply carries a reason made by the controller's real admission), so which segments are shed does
not depend on the machine's speed.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from common.contracts.controller import TaskAccepted
from common.errors import DecodeError
from common.registry import hook
from common.segment_wire import MEDIA_TYPE, SegmentHeader, WireFrame
from common.task import Task
from services.controller.admission import Admission, AdmissionConfig, pressure_key
from services.generator.app import create_app
from services.generator.config import GeneratorConfig, GeneratorSettings
from services.generator.filters.fps import FpsFilter, FpsFilterConfig
from services.generator.frame_filter import FAMILY as FILTER_FAMILY
from services.generator.source import Frame
from services.generator.sources.capture import LiveCapture, LiveCaptureConfig
from services.generator.sources.file import FileSource, FileSourceConfig
from services.generator.sources.http import HttpSource, HttpSourceConfig
from tests.e2e.cluster import wait_until, write_video
from tests.servers import free_port, serve
from tests.services.controller.test_controller import Recorder, fake_distributor

FRAMES = 120
FPS = 20.0
SEEN: list[int] = []
"""Indices of the frames the test's frame filter was asked about (the generator test reads it)."""


@hook(FILTER_FAMILY, "test-recording-fps")
class RecordingFpsFilter(FpsFilter):
    """The real ``fps`` filter, recording which frames it was asked about."""

    Config = FpsFilterConfig

    def keep(self, frame: Frame, source_fps: float, target_fps: float) -> bool:
        assert frame.image.size > 0, "the filter was handed a frame without its image"
        SEEN.append(frame.index)
        return super().keep(frame, source_fps, target_fps)


@pytest.mark.integration
def test_a_file_skips_without_retrieving_and_keeps_indices_timestamps_and_looping(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", frames=6, fps=FPS, size=(160, 120))
    source = FileSource(FileSourceConfig(path=str(video), loop=True, max_loops=2))
    source.open()
    try:
        frames = []
        for n in range(12):  # two passes; every third frame read, the others skipped
            frame = source.read() if n % 3 == 0 else source.skip()
            assert frame is not None
            frames.append(frame)
        assert source.read() is None  # max_loops
    finally:
        source.close()
    assert [f.index for f in frames] == [0, 1, 2, 3, 4, 5] * 2
    assert [f.timestamp for f in frames] == pytest.approx([n / FPS for n in range(12)])
    assert [f.image.shape for f in frames if f.image.size] == [(120, 160, 3)] * 4
    assert all(f.image.size == 0 for n, f in enumerate(frames) if n % 3)
    assert (source.images_decoded, source.frames_skipped) == (4, 8)


class FileCaptureConfig(LiveCaptureConfig):
    path: str


class FileCapture(LiveCapture):
    """The live capture's own reading (grab, retrieve, reconnect) on a video file instead of a camera."""

    config: FileCaptureConfig

    def target(self) -> str:
        return self.config.path


@pytest.mark.integration
def test_a_live_capture_skips_by_grabbing_alone(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", frames=5, fps=FPS, size=(160, 120))
    source = FileCapture(FileCaptureConfig(path=str(video), reconnect_attempts=0))
    source.open()
    try:
        got = [source.skip(), source.read(), source.skip(), source.skip(), source.read()]
        assert source.read() is None  # the "stream" ended and no reconnect is allowed
    finally:
        source.close()
    assert [f.index for f in got if f is not None] == [0, 1, 2, 3, 4]
    assert [f is not None and f.image.size > 0 for f in got] == [False, True, False, False, True]
    assert (source.images_decoded, source.frames_skipped) == (2, 3)


def datasource_standin(images: list[np.ndarray], *, broken: set[int]) -> FastAPI:
    """Answers a source's calls as the datasource does (``docs/datasource.md``): reset, stream info and
    segments of 4 frames with their truth; the images at ``broken`` are corrupt (never decodable)."""
    app = FastAPI()
    cursor = {"next": 0}

    @app.post("/streams/cam/reset")
    async def reset(client: str) -> dict[str, object]:
        cursor["next"] = 0
        return {"id": "cam", "client": client, "reset": True}

    @app.get("/streams/cam")
    async def info() -> dict[str, object]:
        return {
            "id": "cam",
            "mode": "http",
            "play": "once",
            "dataset": "test",
            "url": None,
            "width": 160,
            "height": 120,
            "resolution": "120p",
            "fps": FPS,
            "frames": len(images),
            "ground_truth": True,
            "clients": [],
            "rtsp_url": None,
        }

    @app.get("/streams/cam/segment")
    async def segment(client: str, frames: int = 4) -> Response:
        first = cursor["next"]
        picked = list(range(first, min(len(images), first + frames)))
        cursor["next"] = first + len(picked)
        # As encode_segment lays it out (a header line, then the JPEGs back to back), with the broken ones
        # replaced by bytes no decoder takes.
        blobs = [b"\x00" * 64 if i in broken else cv2.imencode(".jpg", images[i])[1].tobytes() for i in picked]
        header = SegmentHeader(
            source="cam",
            client=client,
            finished=cursor["next"] >= len(images),
            width=160,
            height=120,
            fps=FPS,
            frames=[
                WireFrame(index=i, timestamp=i / FPS, truth={"boxes": [[i, i, 2, 2]]}, bytes=len(blob))
                for i, blob in zip(picked, blobs, strict=True)
            ],
        )
        return Response(header.model_dump_json().encode() + b"\n" + b"".join(blobs), media_type=MEDIA_TYPE)

    return app


@pytest.mark.integration
def test_the_http_source_never_decodes_a_skipped_frame() -> None:
    """Frames 2 and 6 are corrupt: skipping 2 succeeds (so it was never decoded); reading 6 fails, and skipping
    the next one still works."""
    images = [np.full((120, 160, 3), 20 * i, np.uint8) for i in range(8)]
    with serve(datasource_standin(images, broken={2, 6})) as base:
        source = HttpSource(HttpSourceConfig(url=f"{base}/streams/cam"))
        source.open()
        try:
            got = [source.read(), source.skip(), source.skip(), source.read(), source.skip(), source.read()]
            with pytest.raises(DecodeError, match="frame 6 of the stream cannot be decoded"):
                source.read()
            last = source.skip()
            end = source.read()
        finally:
            source.close()
    frames = [f for f in got if f is not None]
    assert [f.index for f in frames] == [0, 1, 2, 3, 4, 5] and last is not None and last.index == 7 and end is None
    assert [f.truth for f in frames] == [{"boxes": [[i, i, 2, 2]]} for i in range(6)]
    assert [f.image.size > 0 for f in frames] == [True, False, False, True, False, True]
    assert int(frames[3].image.mean()) == pytest.approx(60, abs=2)  # frame 3's own image, decoded
    assert (source.images_decoded, source.frames_skipped) == (3, 4)


def controller_standin(rec: Recorder, admit: float, reason: str) -> FastAPI:
    """A controller that takes every task, answers ``admit`` with ``reason``, and records the task as a result
    at once (the stages behind a controller are not what this test is about)."""
    app = FastAPI()

    @app.post("/tasks")
    async def tasks(request: Request) -> JSONResponse:
        task = Task.model_validate_json(await request.body())
        rec.results.append(json.loads(task.to_json()))
        reply = TaskAccepted(accepted=task.task_uuid, outcome="accepted", admit=admit, pressure=reason)
        return JSONResponse(json.loads(reply.model_dump_json()), status_code=202)

    return app


def halved_share() -> tuple[float, str]:
    """The share and reason a real controller's admission gives after an interval at its in-flight limit."""
    now = [0.0]
    admission = Admission(AdmissionConfig(interval_s=1.0), "cloud", lambda: now[0])
    admission.overloaded()
    now[0] = 1.0
    return admission.signal()


@pytest.mark.integration
def test_a_generator_told_half_sheds_every_other_segment_without_decoding_or_filtering_its_frames(
    tmp_path: Path,
) -> None:
    admit, reason = halved_share()
    assert admit == 0.5 and pressure_key(reason) == "cloud:in_flight"
    rec = Recorder()
    ports = {"controller": free_port(), "dist": free_port()}
    nodes = {
        "cloud": {
            "role": "cloud",
            "components": {"controller": {"port": ports["controller"]}, "distributor": {"port": ports["dist"]}},
        }
    }
    topology = json.dumps({"nodes": nodes, "links": []})
    work = tmp_path / "work"
    work.mkdir()
    video = write_video(tmp_path / "v.mp4", frames=FRAMES, fps=FPS, size=(320, 240))
    config = GeneratorConfig.model_validate(
        {
            "source_id": "cam0",
            "source": {"alias": "file", "params": {"path": str(video)}},
            "frame_filter": {"alias": "test-recording-fps"},
            "startup_plan": {"resolution": "240p", "fps": FPS, "encoding": "mp4v", "buffer_size": 2},
            "schedule_interval": 3600,
            "plan_timeout_s": 0.3,
        }
    )
    SEEN.clear()
    with ExitStack() as stack:
        stack.enter_context(serve(controller_standin(rec, admit, reason), ports["controller"]))
        stack.enter_context(serve(fake_distributor(rec), ports["dist"]))
        client = stack.enter_context(
            TestClient(create_app(GeneratorSettings(node="cloud", topology=topology, work_dir=work), config))
        )
        status: dict[str, Any] = wait_until(
            lambda: (lambda s: s if s["finished"] else None)(client.get("/status").json()),
            timeout=60,
            what="the end of the video",
        )
        wait_until(
            lambda: len(rec.results) + len(rec.drops) >= status["tasks_created"],
            timeout=60,
            what="a result or a drop record for every task",
        )
    assert status["state"] == "finished", status
    # Exact accounting: every task id once, as a result or a drop record; every frame in exactly one task.
    ids = [r["task_id"] for r in rec.results] + [d["task_id"] for d in rec.drops]
    assert sorted(ids) == list(range(status["tasks_created"])) and status["tasks_created"] == FRAMES // 2, ids
    made = [i for r in rec.results for i in r["payload"]["frame_indices"]]
    shed = [i for d in rec.drops for i in d["task"]["payload"]["frame_indices"]]
    assert sorted(made + shed) == list(range(FRAMES))
    assert {d["reason"] for d in rec.drops} == {"shed"} and len(rec.drops) == status["tasks_shed"]
    # Until the first reply every segment is made; the replayed source waits when its queue (4) is full, so
    # at most 6 segments start before the share is heard, and from then on every other one is shed.
    assert status["tasks_shed"] >= (FRAMES // 2 - 6) // 2, status
    for record in rec.drops:
        assert pressure_key(record["message"]) == "cloud:in_flight", record["message"]
        assert record["task"]["payload"]["file_name"] is None and len(record["task"]["payload"]["frame_indices"]) == 2
        assert record["task"]["payload"]["ground_truth"] is None
    # The shed frames were read without their image and never reached the filter; the made ones were decoded.
    assert status["source_frames_skipped"] == status["frames_read_shed"] == len(shed)
    assert status["source_images_decoded"] == len(made)
    assert sorted(SEEN) == sorted(made)
    assert status["frames_read"] == FRAMES
