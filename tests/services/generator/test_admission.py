"""Back-pressure reaching a real generator: it sheds segments before encoding them when its controller asks.

The generator runs its real app (TestClient drives its lifespan; its reader and encoder threads are real) and
submits to a **real controller** served on loopback. The stage behind the controller is a small real FastAPI
app standing in for a processor whose model takes a fixed time (one task at a time, four waiting at most, a
503 beyond: a full queue), so the overload is the same on any machine; the distributor is a recorder. The
source, a video file the test writes, offers 2.5 times the segments the stage can take.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from common.results import SegmentResult
from common.task import Task
from services.controller.admission import pressure_key
from services.controller.app import create_app as controller_app
from services.controller.config import ControllerConfig, ControllerSettings
from services.generator.admission import UNNAMED_PHASE, SourceAdmission, source_phase
from services.generator.app import create_app
from services.generator.config import GeneratorConfig, GeneratorSettings
from tests import loopback
from tests.e2e.cluster import wait_until, write_video
from tests.servers import free_port, serve
from tests.services.controller.test_controller import Recorder, fake_distributor

FRAMES = 120
FPS = 20.0
SERVICE_S = 0.25
"""The stand-in stage's time per task: 4 segments/s against the source's 10 (2-frame segments at 20 fps)."""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_credit_sheds_evenly_and_a_stale_share_no_longer_counts() -> None:
    clock = Clock()
    a = SourceAdmission(enabled=True, stale_after_s=5.0, clock=clock)
    assert [a.shed_next() is None for _ in range(3)] == [True] * 3  # nothing heard: every segment made
    a.heard(0.5, "node 'edge1': median stage queue wait 2.00s over 1s")
    made = [a.shed_next() is None for _ in range(8)]
    assert made == [False, True] * 4
    a.heard(0.25, "x")
    assert [a.shed_next() is None for _ in range(8)].count(True) == 2
    reason = a.shed_next()
    assert reason is not None and "admits 0.25 of the segments: x" in reason
    clock.now += 5.1
    assert a.current() == 1.0 and a.shed_next() is None
    off = SourceAdmission(enabled=False, stale_after_s=5.0, clock=clock)
    off.heard(0.1, "x")
    assert off.shed_next() is None and off.current() == 1.0


def test_the_segments_shed_are_the_share_asked_for_and_each_named_source_sheds_its_own() -> None:
    """At 0.9 a source sheds a tenth of its segments (a credit capped at 1 shed every other one at any share
    from 0.5 to under 1); sources with names start their credit at a phase of their own, kept through share
    1, so at the same share they do not shed the same segments."""
    clock = Clock()
    a = SourceAdmission(enabled=True, stale_after_s=60.0, clock=clock)
    a.heard(0.9, "x")
    assert [a.shed_next() is None for _ in range(100)].count(False) == 10
    a.heard(0.95, "x")
    assert [a.shed_next() is None for _ in range(40)].count(False) == 2
    names = [f"cam{i}" for i in range(12)]
    phases = [source_phase(n) for n in names]
    assert all(0.0 <= p < 1.0 for p in phases) and len(set(phases)) == 12
    assert phases == [source_phase(n) for n in names]  # stable: the same source sheds the same segments
    assert source_phase("") == UNNAMED_PHASE
    shed_at: list[set[int]] = []
    for name in names:
        source = SourceAdmission(enabled=True, stale_after_s=60.0, clock=clock, source=name)
        assert source._credit == source_phase(name)
        source.heard(1.0, "")
        assert all(source.shed_next() is None for _ in range(7))  # share 1: all made, the phase kept
        source.heard(0.75, "x")
        shed_at.append({n for n in range(8) if source.shed_next() is not None})
        assert len(shed_at[-1]) == 2
    # Twelve sources at 0.75 each shed 2 of 8 segments: not all in the same places.
    assert len({frozenset(s) for s in shed_at}) > 1
    per_segment = [sum(n in s for s in shed_at) for n in range(8)]
    assert max(per_segment) < 12, per_segment


def slow_stage(service_s: float, waiting_max: int) -> FastAPI:
    """A processor's outside: tasks run one at a time for ``service_s``; more than ``waiting_max`` waiting: 503."""
    app = FastAPI()
    busy = asyncio.Lock()
    waiting = 0

    @app.post("/process")
    async def process(request: Request) -> Response:
        nonlocal waiting
        task = Task.model_validate_json(await request.body())
        if waiting >= waiting_max:
            return JSONResponse({"error": {"code": "overloaded", "message": "queue full"}}, status_code=503)
        waiting += 1
        arrived = time.perf_counter()
        async with busy:
            waiting -= 1
            started = time.perf_counter()
            await asyncio.sleep(service_s)
        task.stage.timings.queue, task.stage.timings.service = started - arrived, service_s
        task.stage.result = SegmentResult(application="stub", extra={"frames": len(task.payload.frame_indices)})
        return Response(task.to_json(), media_type="application/json")

    return app


Run = tuple[list[dict[str, Any]], Recorder, dict[str, Any], list[str]]


def overload(tmp_path: Path, *, follow: bool, sources: int = 1) -> Run:
    """Run the file through ``sources`` generators (``cam0``, ...) -> one controller -> the slow stage; the
    generators' final statuses, what the distributor got, the controller's status and the generators' metrics."""
    rec = Recorder()
    ports = {n: free_port() for n in ("controller", "stage", "dist")}
    nodes = {
        "cloud": {
            "role": "cloud",
            "components": {"controller": {"port": ports["controller"]}, "distributor": {"port": ports["dist"]}},
            "processors": {"face-detection": {"port": ports["stage"]}},
        }
    }
    topology = json.dumps({"nodes": nodes, "links": []})
    work = tmp_path / "work"
    work.mkdir()
    video = write_video(tmp_path / "v.mp4", frames=FRAMES, fps=FPS, size=(320, 240))
    controller = controller_app(
        ControllerSettings(node="cloud", port=ports["controller"], topology=topology, work_dir=work),
        ControllerConfig.model_validate({"admission": {"interval_s": 0.25, "queue_target_s": 0.5}}),
    )
    settings = GeneratorSettings(node="cloud", topology=topology, work_dir=work)

    def generator(i: int) -> TestClient:
        config = GeneratorConfig.model_validate(
            {
                "source_id": f"cam{i}",
                "source": {"alias": "file", "params": {"path": str(video)}},
                "startup_plan": {"resolution": "240p", "fps": FPS, "encoding": "mp4v", "buffer_size": 2},
                "schedule_interval": 3600,
                "plan_timeout_s": 0.3,
                "follow_admission": follow,
            }
        )
        return TestClient(create_app(settings, config))

    with ExitStack() as stack:
        stack.enter_context(serve(slow_stage(SERVICE_S, 4), ports["stage"]))
        stack.enter_context(serve(fake_distributor(rec), ports["dist"]))
        controller_url = stack.enter_context(serve(controller, ports["controller"]))
        clients = [stack.enter_context(generator(i)) for i in range(sources)]
        # Each generator follows the share under its own name, so its credit starts at its own phase (that a
        # name gives its phase is checked where no generator runs: by now each may have made segments, and the
        # credit's sums round its last digit).
        for i, client in enumerate(clients):
            assert client.app.state.generator.admission.source == f"cam{i}"  # type: ignore[attr-defined]

        def finished(client: TestClient) -> dict[str, Any] | None:
            status: dict[str, Any] = client.get("/status").json()
            return status if status["finished"] else None

        statuses = [wait_until(partial(finished, c), timeout=60, what="the end of the video") for c in clients]
        created = sum(s["tasks_created"] for s in statuses)
        wait_until(
            lambda: len(rec.results) + len(rec.drops) >= created,
            timeout=60,
            what="a result or a drop record for every task",
        )
        metrics = [c.get("/metrics").text for c in clients]
        controller_status = loopback.get(controller_url + "/status", timeout=5).json()
    return statuses, rec, controller_status, metrics


def shed_metric(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith("dayu_generator_segments_shed_total "):
            return float(line.split()[1])
    raise AssertionError("the shed counter is missing from /metrics")


def accounting(status: dict[str, Any], rec: Recorder) -> Counter[str]:
    """Every task a source created is exactly one result or one drop record, and every frame of the video is
    in exactly one of its tasks: offered = delivered + dropped, by reason."""
    source = status["source_id"]
    results = [r for r in rec.results if r["source_id"] == source]
    drops = [d for d in rec.drops if d["source_id"] == source]
    created = status["tasks_created"]
    ids = [r["task_id"] for r in results] + [d["task_id"] for d in drops]
    assert sorted(ids) == list(range(created)), ids
    by_reason = Counter(d["reason"] for d in drops)
    assert created == len(results) + sum(by_reason.values())
    frames = [i for r in results for i in r["payload"]["frame_indices"]]
    frames += [i for d in drops for i in d["task"]["payload"]["frame_indices"]]
    assert sorted(frames) == list(range(FRAMES))
    return by_reason


@pytest.mark.integration
def test_an_overloaded_node_makes_its_generator_shed_segments_before_encoding(tmp_path: Path) -> None:
    (status,), rec, controller, (metrics,) = overload(tmp_path, follow=True)
    assert status["state"] == "finished", status
    by_reason = accounting(status, rec)
    # The controller found its stage congested and said so in its replies; the generator heard it and shed.
    assert controller["congested_intervals"] >= 1, controller
    assert status["admission_signals"] > 0 and status["tasks_shed"] > 0, status
    assert by_reason["shed"] == status["tasks_shed"] == shed_metric(metrics), (by_reason, status)
    shed = [d for d in rec.drops if d["reason"] == "shed"]
    codes = {"queue_full", "in_flight", "queue_wait", "recovering"}
    for record in shed:
        assert "the node admits" in record["message"] and "'cloud'" in record["message"], record
        # The reason's stable codes travel in the record: the controller's node and why it cut the share.
        node, _, key = pressure_key(record["message"]).partition(":")
        assert node == "cloud" and set(key.split("+")) <= codes, record["message"]
        assert record["node"] == "cloud" and record["task"]["payload"]["file_name"] is None
        assert len(record["task"]["payload"]["frame_indices"]) == 2
    # The generator itself gave up only the shed segments; the others were encoded and submitted.
    assert status["tasks_dropped"] == status["tasks_shed"]
    assert status["tasks_submitted"] == status["tasks_created"] - status["tasks_shed"]
    # The shed segments' frames were taken without their image: the source decoded only the others.
    assert status["source_frames_skipped"] == status["frames_read_shed"] == 2 * status["tasks_shed"]
    assert status["source_images_decoded"] == FRAMES - status["frames_read_shed"]


@pytest.mark.integration
def test_every_source_of_the_node_follows_the_share_and_each_is_accounted_exactly(tmp_path: Path) -> None:
    statuses, rec, controller, metrics = overload(tmp_path, follow=True, sources=3)
    assert controller["congested_intervals"] >= 1, controller
    for status, text in zip(statuses, metrics, strict=True):
        by_reason = accounting(status, rec)
        assert status["tasks_shed"] > 0 and by_reason["shed"] == status["tasks_shed"] == shed_metric(text), status
    assert len(rec.results) + len(rec.drops) == sum(s["tasks_created"] for s in statuses)


@pytest.mark.integration
def test_without_following_the_share_every_segment_is_encoded_and_still_accounted(tmp_path: Path) -> None:
    (status,), rec, _, (metrics,) = overload(tmp_path, follow=False)
    by_reason = accounting(status, rec)
    assert status["tasks_shed"] == 0 == by_reason["shed"] == shed_metric(metrics)
    assert status["tasks_submitted"] == status["tasks_created"] == FRAMES // 2
