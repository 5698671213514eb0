"""Processor integration tests: a real uvicorn server on loopback, real MP4 segments, the real Haar cascade.

The queue tests use a test-only application (`test-gate`) that holds the worker until the test
releases it, so the queue can be filled deterministically; everything else is the real service.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import numpy as np
import pytest

from common.registry import REGISTRY, hook
from common.results import FrameResult, SegmentResult
from services.processor.app import create_app
from services.processor.application import FAMILY, Application, ApplicationConfig
from services.processor.config import ProcessorConfig
from services.processor.settings import ProcessorSettings
from tests import loopback
from tests.servers import serve
from tests.services.processor.segments import FACE_AT, face_segment, plain_segment, stage_task

pytestmark = pytest.mark.integration

GATES: dict[str, threading.Event] = {}


class GateConfig(ApplicationConfig):
    gate: str = "default"


if "test-gate" not in REGISTRY.aliases(FAMILY):

    @hook(FAMILY, "test-gate")
    class GateApplication(Application):
        """Waits (bounded) for the test to open its gate, then passes frames through."""

        Config = GateConfig
        output_type: ClassVar[str] = "frame"

        def process(self, frames: list[np.ndarray], upstream: SegmentResult | None) -> list[FrameResult]:
            assert isinstance(self.config, GateConfig)
            GATES[self.config.gate].wait(timeout=20)
            return [FrameResult(width=f.shape[1], height=f.shape[0]) for f in frames]


def start(tmp_path: Path, **config: Any) -> Any:
    settings = ProcessorSettings(work_dir=tmp_path, service=config.pop("service", None))
    return serve(create_app(settings, ProcessorConfig.model_validate(config)))


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    event = threading.Event()
    GATES["default"] = event
    yield event
    event.set()


def test_face_detection_finds_the_astronaut(tmp_path: Path) -> None:
    face_segment(tmp_path, "face.mp4")
    task = stage_task("face-detection", "face.mp4")
    with start(tmp_path, application={"alias": "face-detection"}, service="face-detection") as url:
        answer = loopback.post(f"{url}/process", content=task.to_json(), timeout=30)
        assert answer.status_code == 200, answer.text
        stage = answer.json()["dag"]["detect"]
        model = loopback.get(f"{url}/model").json()
    assert stage["done"] is True
    assert stage["timings"]["queue"] >= 0 and stage["timings"]["service"] > 0
    frames = stage["result"]["frames"]
    assert len(frames) == 4
    assert [f["frame_index"] for f in frames] == [100, 101, 102, 103]
    for frame in frames:
        assert frame["objects"], "the Haar cascade missed the astronaut's face"
        x1, y1, x2, y2 = frame["objects"][0]["box"]
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        assert FACE_AT[0] <= cx <= FACE_AT[0] + 256 + 16 and FACE_AT[1] <= cy <= FACE_AT[1] + 256
    assert stage["scenario"]["obj_num"] >= 1
    assert 0 < stage["scenario"]["obj_size"] < 1
    assert stage["scenario"]["obj_velocity"] > 0  # the face moves 4 px per frame
    assert model["alias"] == "face-detection" and model["threads"] >= 1 and model["runtime"] == "opencv"


def test_passthrough_reports_frames(tmp_path: Path) -> None:
    plain_segment(tmp_path, "p.mp4", frames=3, size=(160, 120))
    task = stage_task("passthrough", "p.mp4", frames=3)
    with start(tmp_path) as url:
        answer = loopback.post(f"{url}/process", content=task.to_json(), timeout=30)
        metrics = loopback.get(f"{url}/metrics").text
        health = loopback.get(f"{url}/health").json()
    assert answer.status_code == 200, answer.text
    result = answer.json()["dag"]["detect"]["result"]
    assert result["application"] == "passthrough"
    assert [(f["width"], f["height"]) for f in result["frames"]] == [(160, 120)] * 3
    assert answer.json()["dag"]["detect"]["scenario"]["obj_num"] == 0
    assert 'dayu_processor_jobs_total{outcome="done"} 1.0' in metrics
    assert health["application"] == "passthrough"


def _post(client: httpx.AsyncClient, url: str, task_id: int) -> Any:
    return client.post(f"{url}/process", content=stage_task("passthrough", "p.mp4", task_id=task_id).to_json())


async def _wait_queue(client: httpx.AsyncClient, url: str, length: int) -> None:
    for _ in range(200):
        if (await client.get(f"{url}/queue")).json()["length"] == length:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"queue never reached length {length}")


async def test_fifo_full_queue_answers_503(tmp_path: Path, gate: threading.Event) -> None:
    plain_segment(tmp_path, "p.mp4")
    config = {"application": {"alias": "test-gate"}, "queue": {"alias": "fifo", "params": {"capacity": 1}}}
    with start(tmp_path, **config) as url:
        async with httpx.AsyncClient(timeout=30) as client:
            running = asyncio.create_task(_post(client, url, 0))
            await _wait_queue(client, url, 0)
            await asyncio.sleep(0.1)  # the worker took job 0 and is held by the gate
            waiting = asyncio.create_task(_post(client, url, 1))
            await _wait_queue(client, url, 1)
            refused = await _post(client, url, 2)
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "overloaded"
            assert "capacity 1" in refused.json()["error"]["message"]
            assert (await client.get(f"{url}/queue")).json() == {"length": 1, "capacity": 1}
            gate.set()
            assert (await running).status_code == 200
            assert (await waiting).json()["task_id"] == 1


async def test_drop_oldest_evicts_the_oldest(tmp_path: Path, gate: threading.Event) -> None:
    plain_segment(tmp_path, "p.mp4")
    config = {"application": {"alias": "test-gate"}, "queue": {"alias": "drop-oldest", "params": {"capacity": 1}}}
    with start(tmp_path, **config) as url:
        async with httpx.AsyncClient(timeout=30) as client:
            running = asyncio.create_task(_post(client, url, 0))
            await _wait_queue(client, url, 0)
            await asyncio.sleep(0.1)
            oldest = asyncio.create_task(_post(client, url, 1))
            await _wait_queue(client, url, 1)
            newest = asyncio.create_task(_post(client, url, 2))
            evicted = await oldest
            assert evicted.status_code == 503
            assert "drop-oldest" in evicted.json()["error"]["message"]
            gate.set()
            assert (await running).status_code == 200
            kept = await newest
            assert kept.status_code == 200 and kept.json()["task_id"] == 2


async def test_queue_clear_answers_waiters(tmp_path: Path, gate: threading.Event) -> None:
    plain_segment(tmp_path, "p.mp4")
    with start(tmp_path, application={"alias": "test-gate"}) as url:
        async with httpx.AsyncClient(timeout=30) as client:
            running = asyncio.create_task(_post(client, url, 0))
            await _wait_queue(client, url, 0)
            await asyncio.sleep(0.1)
            waiters = [asyncio.create_task(_post(client, url, i)) for i in (1, 2)]
            await _wait_queue(client, url, 2)
            cleared = await client.post(f"{url}/queue/clear")
            assert cleared.json() == {"cleared": 2}
            for waiter in waiters:
                answer = await waiter
                assert answer.status_code == 503 and "cleared" in answer.json()["error"]["message"]
            gate.set()
            assert (await running).status_code == 200


@pytest.mark.parametrize("kind", ["corrupt", "empty", "truncated"])
def test_undecodable_segment_is_422_and_service_goes_on(tmp_path: Path, kind: str) -> None:
    good = plain_segment(tmp_path, "good.mp4", frames=6)
    bad = tmp_path / "bad.mp4"
    if kind == "corrupt":
        bad.write_bytes(np.random.default_rng(1).bytes(4096))
    elif kind == "empty":
        bad.write_bytes(b"")
    else:
        bad.write_bytes(good.read_bytes()[:200])
    with start(tmp_path) as url:
        answer = loopback.post(f"{url}/process", content=stage_task("passthrough", "bad.mp4").to_json(), timeout=30)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "decode_error"
        assert "bad.mp4" in answer.json()["error"]["message"]
        again = loopback.post(f"{url}/process", content=stage_task("passthrough", "good.mp4").to_json(), timeout=30)
        assert again.status_code == 200


def test_bad_requests_get_clear_4xx(tmp_path: Path) -> None:
    plain_segment(tmp_path, "p.mp4")
    (tmp_path.parent / "outside.mp4").write_bytes(b"x")
    task = stage_task("passthrough", "p.mp4").model_dump(mode="json")
    with start(tmp_path, service="passthrough", max_body_bytes=64 * 1024) as url:

        def post(body: bytes | str) -> httpx.Response:
            return loopback.post(f"{url}/process", content=body, timeout=30)

        malformed = post(b'{"source_id": ')
        assert malformed.status_code == 400 and "malformed task" in malformed.json()["error"]["message"]
        traversal = post(httpx.Request("POST", url, json={**task, "payload": {"file_name": "../outside.mp4"}}).read())
        assert traversal.status_code == 400 and "path separators" in traversal.json()["error"]["message"]
        unknown = post(httpx.Request("POST", url, json={**task, "cursor": "nope"}).read())
        assert unknown.status_code == 400 and "'nope'" in unknown.json()["error"]["message"]
        wrong = stage_task("face-detection", "p.mp4").to_json()
        wrong_answer = post(wrong)
        assert wrong_answer.status_code == 400 and "serves 'passthrough'" in wrong_answer.json()["error"]["message"]
        missing = post(stage_task("passthrough", "absent.mp4").to_json())
        assert missing.status_code == 404 and "absent.mp4" in missing.json()["error"]["message"]
        huge = post(b" " * (65 * 1024) + task_json(task))
        assert huge.status_code == 413
        sentinel = post(httpx.Request("POST", url, json={**task, "cursor": "_end"}).read())
        assert sentinel.status_code == 400
        assert post(stage_task("passthrough", "p.mp4").to_json()).status_code == 200


def task_json(task: dict[str, Any]) -> bytes:
    return httpx.Request("POST", "http://x", json=task).read()
