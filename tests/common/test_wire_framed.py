"""The framed task + segment body (one call between controllers) through a real server: round trip,
transfer time, and bad bodies refused with a 4xx that leave no file behind."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi import FastAPI, Request

from common.errors import InvalidInput
from common.service import install_error_handlers
from common.task import Payload, Task
from common.transport import ServiceClient
from common.wire import (
    FRAMED_CONTENT_TYPE,
    LINK_WAIT_HEADER,
    TASK_BYTES_HEADER,
    framed_task,
    link_wait_of,
    read_framed_task,
)
from tests import loopback
from tests.common.dagkit import dag_of

pytestmark = pytest.mark.integration
Serve = Callable[[FastAPI], str]

LIMIT = 4 * 1024 * 1024


def make_app(store: Path) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/tasks")
    async def receive(request: Request) -> dict[str, object]:
        task, transfer = await read_framed_task(request, store, max_payload=LIMIT)
        data = (store / (task.payload.file_name or "")).read_bytes()
        return {"task_uuid": task.task_uuid, "transfer": transfer, "sha256": hashlib.sha256(data).hexdigest()}

    return app


def segment_task(name: str = "seg-1.mp4") -> Task:
    dag = dag_of([("a", "b")])
    return Task(source_id="cam-1", task_id=1, source_node="edge1", dag=dag, payload=Payload(file_name=name))


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "work"


async def test_task_and_segment_arrive_in_one_call(serve: Serve, store: Path) -> None:
    url = serve(make_app(store))
    data = np.random.default_rng(5).bytes(3 * 1024 * 1024 + 17)
    task = segment_task()
    body, headers = framed_task(task, data, link_wait=0.25)
    async with ServiceClient() as client:
        answer = (await client.request("POST", f"{url}/tasks", content=body, headers=headers)).json()
    assert answer["task_uuid"] == task.task_uuid
    assert answer["sha256"] == hashlib.sha256(data).hexdigest()
    assert 0.25 <= answer["transfer"] < 5  # the sender's link wait plus the arrival here
    assert sorted(p.name for p in store.iterdir()) == ["seg-1.mp4"]  # no temporary file left


def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return loopback.post(f"{url}/tasks", content=body, headers=headers, timeout=10)


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({TASK_BYTES_HEADER: None}, 400, TASK_BYTES_HEADER),
        ({TASK_BYTES_HEADER: "ten"}, 400, "must be a number"),
        ({TASK_BYTES_HEADER: "-3"}, 400, "between 0"),
        ({LINK_WAIT_HEADER: "nan"}, 400, "between 0"),
        ({TASK_BYTES_HEADER: "999999"}, 400, "ends inside the task JSON"),
        ({TASK_BYTES_HEADER: "20"}, 400, "malformed task"),
    ],
)
def test_bad_headers_are_refused_and_store_nothing(
    serve: Serve, store: Path, change: dict[str, str | None], status: int, message: str
) -> None:
    url = serve(make_app(store))
    body, headers = framed_task(segment_task(), b"\x00" * 1000)
    for key, value in change.items():
        if value is None:
            headers.pop(key)
        else:
            headers[key] = value
    answer = post(url, body, headers)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]["message"]
    assert not store.exists() or not list(store.iterdir())


@pytest.mark.parametrize(
    ("payload", "name", "status", "message"),
    [
        (b"", "seg.mp4", 400, "is empty"),
        (b"x" * 10, "../escape.mp4", 400, "file name"),
        (b"x" * (LIMIT + 1), "seg.mp4", 413, "exceeds the limit"),
    ],
)
def test_bad_segments_are_refused_and_store_nothing(
    serve: Serve, store: Path, payload: bytes, name: str, status: int, message: str
) -> None:
    url = serve(make_app(store))
    task = segment_task()
    head = task.model_dump(mode="json")
    head["payload"]["file_name"] = name  # the model refuses such a name, so it is written by hand
    text = json.dumps(head).encode()
    headers = {"content-type": FRAMED_CONTENT_TYPE, TASK_BYTES_HEADER: str(len(text)), LINK_WAIT_HEADER: "0"}
    answer = post(url, text + payload, headers)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]["message"]
    assert not store.exists() or not list(store.iterdir())
    assert not (store.parent / "escape.mp4").exists()


def _request_with(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "POST", "path": "/tasks", "headers": raw, "query_string": b""})


def test_a_task_sent_without_its_segment_carries_its_link_wait_in_a_header() -> None:
    """The result hop writes the task JSON once, before the link wait: the wait travels beside it."""
    assert link_wait_of(_request_with({})) is None
    assert link_wait_of(_request_with({LINK_WAIT_HEADER: "0.250000"})) == pytest.approx(0.25)
    for bad in ("soon", "-1", "nan", "1e9"):
        with pytest.raises(InvalidInput, match=LINK_WAIT_HEADER):
            link_wait_of(_request_with({LINK_WAIT_HEADER: bad}))
