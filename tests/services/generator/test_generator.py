"""The generator app against small real FastAPI apps standing in for its controller, the scheduler and the
distributor (they record what arrives), reading a video file written here."""

from __future__ import annotations

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
from tests.e2e.servers import free_port, serve

pytestmark = pytest.mark.integration


def recorder(store: dict[str, list[Any]], *, refuse_tasks: bool = False) -> FastAPI:
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
        meta = {"resolution": "240p", "fps": 5, "encoding": "h264", "qp": 30, "buffer_size": 2}
        return {"plan": {"meta": meta, "offload": {"face": "edge1"}}, "deployment_version": 7}

    return app


def run_generator(tmp_path: Path, *, refuse: bool) -> tuple[dict[str, list[Any]], dict[str, Any]]:
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
            "schedule_interval": 0,
            "realtime": False,
            "submit_retries": 1,
        }
    )
    settings = GeneratorSettings(node="edge1", topology=json.dumps(topology), work_dir=tmp_path / "work")
    with serve(recorder(store, refuse_tasks=refuse), port), TestClient(create_app(settings, config)) as client:
        status = wait_until(
            lambda: (lambda s: s if s["finished"] else None)(client.get("/status").json()), timeout=30, what="the end"
        )
    return store, status


def test_tasks_follow_the_plan_with_increasing_ids_and_segments_on_disk(tmp_path: Path) -> None:
    store, status = run_generator(tmp_path, refuse=False)
    tasks = [Task.from_dict(t) for t in store["tasks"]]
    assert status["tasks_created"] == len(tasks) == status["tasks_submitted"] and status["tasks_dropped"] == 0
    assert [t.task_id for t in tasks] == list(range(len(tasks)))
    indices = [i for t in tasks for i in t.payload.frame_indices]
    assert indices == sorted(indices) and len(set(indices)) == len(indices)
    first, last = tasks[0], tasks[-1]
    assert first.meta.resolution == "360p" and first.dag["face"].node == "cloud"  # startup plan
    assert last.meta.resolution == "240p" and last.meta.encoding == "h264" and last.meta.buffer_size <= 2
    assert last.dag["face"].node == "edge1" and last.deployment_version == 7
    assert store["plans"] and store["plans"][0]["source_id"] == "cam/1"
    for t in tasks:
        assert (tmp_path / "work" / (t.payload.file_name or "")).stat().st_size == t.payload.size_bytes


def test_a_controller_that_refuses_every_task_yields_one_drop_record_per_task(tmp_path: Path) -> None:
    store, status = run_generator(tmp_path, refuse=True)
    assert status["tasks_created"] > 0 and status["tasks_submitted"] == 0
    assert len(store["drops"]) == status["tasks_created"] == status["tasks_dropped"]
    assert {d["reason"] for d in store["drops"]} == {"node_unreachable"}
    assert sorted(d["task_id"] for d in store["drops"]) == list(range(status["tasks_created"]))
    assert not list((tmp_path / "work").glob("*.mp4"))  # segments of dropped tasks are not left behind
