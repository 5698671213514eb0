"""Opening and closing a generator's source over HTTP (``/source/open``, ``/source/close``).

The generator runs its real app (TestClient drives its lifespan) against a small real FastAPI app on
loopback standing in for its controller, the scheduler and the distributor (it records what arrives); the
source is a looping video file written here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.generator.app import create_app
from services.generator.config import GeneratorConfig, GeneratorSettings
from tests.e2e.cluster import wait_until, write_video
from tests.servers import free_port, serve
from tests.services.generator.test_generator import recorder

pytestmark = pytest.mark.integration


@contextmanager
def generator(
    tmp_path: Path, *, autostart: bool, refuse: bool = False, **source: Any
) -> Iterator[tuple[TestClient, dict[str, list[Any]]]]:
    store: dict[str, list[Any]] = {"tasks": [], "drops": [], "plans": []}
    port = free_port()
    topology = {
        "nodes": {
            "cloud": {"role": "cloud", "components": {"scheduler": {"port": port}, "distributor": {"port": port}}},
            "edge1": {"role": "edge", "components": {"controller": {"port": port}}},
        }
    }
    config = GeneratorConfig.model_validate(
        {
            "source_id": "cam",
            "source": {"alias": "file", "params": source},
            "startup_plan": {"resolution": "360p", "fps": 20, "buffer_size": 2},
            "schedule_interval": 3600,
            "plan_timeout_s": 0.3,
            "submit_retries": 0,
            "autostart": autostart,
        }
    )
    settings = GeneratorSettings(node="edge1", topology=json.dumps(topology), work_dir=tmp_path / "work")
    with serve(recorder(store, refuse_tasks=refuse), port), TestClient(create_app(settings, config)) as client:
        yield client, store


def created_at_least(client: TestClient, n: int) -> dict[str, Any]:
    return wait_until(
        lambda: (lambda s: s if s["tasks_created"] >= n else None)(client.get("/status").json()),
        timeout=90,  # encoding segments gets little CPU on a loaded machine
        what=f"{n} tasks",
    )


def all_accounted(status: dict[str, Any], store: dict[str, list[Any]]) -> None:
    """Every task the generator created reached the controller or was recorded as dropped, once."""
    ids = [t["task_id"] for t in store["tasks"]] + [d["task_id"] for d in store["drops"]]
    assert sorted(ids) == list(range(status["tasks_created"])), (status, ids)
    assert status["tasks_submitted"] + status["tasks_dropped"] == status["tasks_created"]


def test_a_generator_without_autostart_reads_nothing_until_opened_and_nothing_after_closing(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", frames=40, fps=20)
    with generator(tmp_path, autostart=False, path=str(video), loop=True) as (client, store):
        assert client.get("/health").json()["state"] == "closed"
        time.sleep(0.5)
        status = client.get("/status").json()
        assert status["open"] is False and status["state"] == "closed"
        assert status["frames_read"] == status["tasks_created"] == 0 and store["tasks"] == []

        opened = client.post("/source/open")
        assert opened.status_code == 200 and opened.json()["changed"] is True and opened.json()["open"] is True
        again = client.post("/source/open", json={})
        assert again.status_code == 200 and again.json()["changed"] is False  # harmless
        created_at_least(client, 3)

        closed = client.post("/source/close")
        assert closed.status_code == 200 and closed.json()["changed"] is True
        after = closed.json()
        assert after["open"] is False and after["state"] == "closed"
        all_accounted(after, store)  # closing waited for the segments already made
        time.sleep(0.5)
        later = client.get("/status").json()
        assert (later["frames_read"], later["tasks_created"]) == (after["frames_read"], after["tasks_created"])
        assert client.post("/source/close").json()["changed"] is False  # closing when closed is harmless

        # Reopened: reading goes on, task ids keep increasing (none reused).
        assert client.post("/source/open").json()["changed"] is True
        created_at_least(client, after["tasks_created"] + 3)
        final = client.post("/source/close").json()
        all_accounted(final, store)
        assert final["opens"] == 2
        ids = [t["task_id"] for t in store["tasks"]]
        assert ids == sorted(ids) and len(set(ids)) == len(ids) and max(ids) >= after["tasks_created"]
        assert len(store["plans"]) == 2  # a plan is asked for before the first task of each opening


def test_closing_with_a_refusing_controller_leaves_a_drop_record_for_every_task(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", frames=40, fps=20)
    with generator(tmp_path, autostart=True, refuse=True, path=str(video), loop=True) as (client, store):
        created_at_least(client, 2)
        status = client.post("/source/close").json()
        assert status["tasks_created"] >= 2 and status["tasks_submitted"] == 0
        all_accounted(status, store)
        assert {d["reason"] for d in store["drops"]} == {"node_unreachable"}


def test_open_takes_source_parameters_for_that_opening(tmp_path: Path) -> None:
    """Like the RTSP URL a datasource reports at open: the configured source has no usable path."""
    small = write_video(tmp_path / "small.mp4", frames=20, fps=20, size=(320, 240))
    with generator(tmp_path, autostart=False, path=str(tmp_path / "not-yet.mp4")) as (client, store):
        answer = client.post("/source/open", json={"params": {"path": str(small), "loop": True}})
        assert answer.status_code == 200, answer.text
        assert answer.json()["raw_meta"]["height"] == 240
        created_at_least(client, 1)
        client.post("/source/close")
        assert store["tasks"] and all(t["raw_meta"]["height"] == 240 for t in store["tasks"])
        # Without parameters the configured (missing) file is used: a clear 503 that names it.
        missing = client.post("/source/open")
        assert missing.status_code == 503 and "not-yet.mp4" in missing.json()["error"]["message"]
        status = client.get("/status").json()
        assert status["state"] == "failed" and status["open"] is False and "not-yet.mp4" in status["error"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"params": {"path": ""}}, 400),  # a parameter the source refuses
        ({"params": {"no_such_key": 1}}, 400),  # a parameter the source does not have
        ({"url": "rtsp://x"}, 422),  # not a field of the body
        ({"params": "path"}, 422),  # params must be an object
    ],
)
def test_a_bad_open_body_is_refused_and_changes_nothing(tmp_path: Path, body: Any, code: int) -> None:
    video = write_video(tmp_path / "v.mp4", frames=10, fps=20)
    with generator(tmp_path, autostart=False, path=str(video)) as (client, store):
        answer = client.post("/source/open", json=body)
        assert answer.status_code == code, answer.text
        assert answer.json()["error"]["message"]
        status = client.get("/status").json()
        assert status["state"] == "closed" and status["open"] is False and status["frames_read"] == 0
        assert store["tasks"] == [] and store["plans"] == []
