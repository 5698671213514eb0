"""The generator app against small real FastAPI apps standing in for its controller, the scheduler and the
distributor (they record what arrives), reading a video file written here."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from common.task import Task
from services.generator.app import create_app
from services.generator.config import GeneratorConfig, GeneratorSettings
from tests.e2e.cluster import wait_until, write_video
from tests.servers import free_port, serve

pytestmark = pytest.mark.integration


def recorder(store: dict[str, list[Any]], *, refuse_tasks: bool = False, plan_delay: float = 0.0) -> FastAPI:
    app = FastAPI()

    @app.post("/tasks", status_code=202)
    async def tasks(request: Request) -> Any:
        if refuse_tasks:
            return JSONResponse({"error": {"message": "down"}}, status_code=503)
        store["tasks"].append(json.loads(await request.body()))
        return {"accepted": "x"}

    @app.post("/drops")
    async def drops(request: Request) -> dict[str, str]:
        store["drops"].append(json.loads(await request.body()))
        return {}

    @app.post("/plan")
    async def plan(request: Request) -> dict[str, Any]:
        store["plans"].append(json.loads(await request.body()))
        await asyncio.sleep(plan_delay)
        meta = {"resolution": "240p", "fps": 5, "encoding": "h264", "qp": 30, "buffer_size": 2}
        return {"plan": {"meta": meta, "offload": {"face": "edge1"}}, "deployment_version": 7}

    return app


def run_generator(
    tmp_path: Path,
    *,
    refuse: bool,
    plan_delay: float = 0.0,
    schedule_interval: float = 0.0,
    plan_timeout_s: float = 60.0,
) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """``plan_timeout_s`` is generous by default: a plan from the loopback scheduler is never late here,
    however loaded the machine; only the slow-scheduler test makes it shorter than the scheduler's delay."""
    store: dict[str, list[Any]] = {"tasks": [], "drops": [], "plans": []}
    port = free_port()
    video = write_video(tmp_path / "v.mp4", frames=20, fps=10)
    topology = {
        "nodes": {
            "cloud": {"role": "cloud", "components": {"scheduler": {"port": port}, "distributor": {"port": port}}},
            "edge1": {"role": "edge", "components": {"controller": {"port": port}}},
        }
    }
    config = GeneratorConfig.model_validate(
        {
            "source_id": "cam/1",
            "source": {"alias": "file", "params": {"path": str(video)}},
            "startup_plan": {"resolution": "360p", "fps": 10, "buffer_size": 4},
            "schedule_interval": schedule_interval,
            "plan_timeout_s": plan_timeout_s,
            "realtime": False,
            "submit_retries": 1,
        }
    )
    settings = GeneratorSettings(node="edge1", topology=json.dumps(topology), work_dir=tmp_path / "work")
    app = recorder(store, refuse_tasks=refuse, plan_delay=plan_delay)
    with serve(app, port), TestClient(create_app(settings, config)) as client:
        status = wait_until(
            lambda: (lambda s: s if s["finished"] else None)(client.get("/status").json()), timeout=90, what="the end"
        )
    return store, status


def test_tasks_follow_the_plan_with_increasing_ids_and_segments_on_disk(tmp_path: Path) -> None:
    store, status = run_generator(tmp_path, refuse=False)
    tasks = [Task.from_dict(t) for t in store["tasks"]]
    assert status["tasks_created"] == len(tasks) == status["tasks_submitted"] and status["tasks_dropped"] == 0
    assert [t.task_id for t in tasks] == list(range(len(tasks)))
    indices = [i for t in tasks for i in t.payload.frame_indices]
    assert indices == sorted(indices) and len(set(indices)) == len(indices)
    # The generator asks before its first task, so every task follows the scheduler's plan.
    for t in tasks:
        assert t.meta.resolution == "240p" and t.meta.encoding == "h264" and t.meta.buffer_size <= 2
        assert t.dag["face"].node == "edge1" and t.deployment_version == 7
    assert len(store["plans"]) >= 2 and store["plans"][0]["source_id"] == "cam/1"
    assert status["plans_received"] == len(store["plans"]) and status["plan_failures"] == 0
    for t in tasks:
        assert (tmp_path / "work" / (t.payload.file_name or "")).stat().st_size == t.payload.size_bytes


def test_a_controller_that_refuses_every_task_yields_one_drop_record_per_task(tmp_path: Path) -> None:
    store, status = run_generator(tmp_path, refuse=True)
    assert status["tasks_created"] > 0 and status["tasks_submitted"] == 0
    assert len(store["drops"]) == status["tasks_created"] == status["tasks_dropped"]
    assert {d["reason"] for d in store["drops"]} == {"node_unreachable"}
    assert sorted(d["task_id"] for d in store["drops"]) == list(range(status["tasks_created"]))
    assert not list((tmp_path / "work").glob("*.mp4"))  # segments of dropped tasks are not left behind


def test_a_slow_scheduler_leaves_the_startup_plan_in_force_and_tasks_flow(tmp_path: Path) -> None:
    """The scheduler answers after 1 s, beyond the 0.3 s plan timeout: no plan ever arrives in time (load only
    makes an answer later)."""
    store, status = run_generator(tmp_path, refuse=False, plan_delay=1.0, schedule_interval=1.0, plan_timeout_s=0.3)
    tasks = [Task.from_dict(t) for t in store["tasks"]]
    assert tasks and status["tasks_created"] == len(tasks) == status["tasks_submitted"]
    for t in tasks:
        assert t.meta.resolution == "360p" and t.meta.buffer_size == 4 and t.dag["face"].node == "cloud"
        assert t.deployment_version == 0
    assert status["plans_received"] == 0 and status["plan_failures"] >= 1 and status["plan_error"]


def test_frames_the_datasource_skipped_are_not_filtered_again(tmp_path: Path) -> None:
    """The real datasource serves a 30 fps dataset at the planned 15 fps; the generator keeps all it gets."""
    from tests.datasource.server import TOKEN, make_dataset, open_source, running_datasource

    store: dict[str, list[Any]] = {"tasks": [], "drops": [], "plans": []}
    port = free_port()
    make_dataset(tmp_path / "datasets")  # 2 clips x 6 frames at 30 fps
    topology = {
        "nodes": {
            "cloud": {"role": "cloud", "components": {"distributor": {"port": port}}},
            "edge1": {"role": "edge", "components": {"controller": {"port": port}}},
        }
    }
    with running_datasource(tmp_path / "datasets") as datasource, serve(recorder(store), port):
        open_source(datasource, "cam", dataset="tiny", play="once")
        config = GeneratorConfig.model_validate(
            {
                "source_id": "cam",
                "source": {"alias": "http", "params": {"url": f"{datasource}/streams/cam", "token": TOKEN}},
                "startup_plan": {"resolution": "360p", "fps": 15, "buffer_size": 2},
            }
        )
        settings = GeneratorSettings(node="edge1", topology=json.dumps(topology), work_dir=tmp_path / "work")
        with TestClient(create_app(settings, config)) as client:
            status = wait_until(
                lambda: (lambda s: s if s["finished"] else None)(client.get("/status").json()),
                timeout=30,
                what="the end of the stream",
            )
    assert status["frames_read"] == status["frames_kept"] == 6, status
    indices = [i for t in store["tasks"] for i in Task.from_dict(t).payload.frame_indices]
    assert indices == [0, 2, 4, 6, 8, 10]
