"""The wire format through a real server: a 10 MB multipart task + payload round trip, and bad bodies."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request

from common.errors import InvalidInput, TransportError
from common.service import install_error_handlers
from common.task import Task
from common.transport import ServiceClient
from common.wire import copy_into, read_task_form, safe_path, save_upload
from tests.common.dagkit import dag_of, new_task

pytestmark = pytest.mark.integration

TEN_MB = 10 * 1024 * 1024
LIMIT = 12 * 1024 * 1024


def make_app(store: Path, max_payload: int = LIMIT) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/tasks")
    async def receive(request: Request) -> dict[str, object]:
        task, upload = await read_task_form(request, max_payload=max_payload)
        if upload is None:
            return {"task": task.model_dump(mode="json"), "stored": None}
        path = await save_upload(upload, store, task.payload.file_name or "segment.bin", max_bytes=LIMIT)
        data = path.read_bytes()
        return {
            "task": task.model_dump(mode="json"),
            "stored": path.name,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }

    return app


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "work"


@pytest.fixture
def url(serve, store) -> str:
    return serve(make_app(store)) + "/tasks"


def segment_task() -> Task:
    task = new_task(dag_of([("a", "b")]))
    task.payload.file_name = "cam-1-000001.mp4"
    task.payload.frame_indices = [0, 1, 2, 3]
    return task


async def test_ten_megabyte_payload_round_trip(url, store):
    task = segment_task()
    payload = os.urandom(TEN_MB)
    async with ServiceClient(timeout=30) as client:
        response = await client.post_task(url, task, payload)
    body = response.json()
    assert Task.from_dict(body["task"]) == task
    assert body["size"] == TEN_MB and body["sha256"] == hashlib.sha256(payload).hexdigest()
    stored = store / "cam-1-000001.mp4"
    assert stored.read_bytes() == payload
    assert [p.name for p in store.iterdir()] == [stored.name]  # no temp file left behind


async def test_task_only_as_form_or_json(url, store):
    task = segment_task()
    async with ServiceClient() as client:
        as_form = (await client.post_task(url, task)).json()
        as_json = (
            await client.request("POST", url, content=task.to_json(), headers={"content-type": "application/json"})
        ).json()
    assert Task.from_dict(as_form["task"]) == task and as_form["stored"] is None
    assert Task.from_dict(as_json["task"]) == task
    assert not store.exists()


async def raw_post(url: str, **kwargs: object) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(url, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "status", "words"),
    [
        ({"files": {"payload": ("x.mp4", b"123")}}, 400, "lacks the 'task' part"),
        ({"data": {"task": "{not json"}}, 400, "malformed task"),
        ({"data": {"task": '{"source_id": "s"}'}}, 400, "task_id: Field required"),
        ({"content": b"hello", "headers": {"content-type": "text/plain"}}, 400, "expected multipart"),
        (
            {"content": b"--x\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=x"}},
            400,
            "lacks the 'task' part",
        ),
        ({"data": {"task": "TASK", "payload": "not a file"}}, 400, "must be a file"),
    ],
)
async def test_bad_bodies_get_a_clear_4xx(url, store, kwargs, status, words):
    if kwargs.get("data", {}).get("task") == "TASK":  # type: ignore[union-attr]
        kwargs["data"]["task"] = segment_task().to_json()  # type: ignore[index]
    response = await raw_post(url, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert words in error["message"] and error["code"]
    assert not store.exists()


async def test_path_traversing_file_name_is_refused(url, store):
    data = segment_task().model_dump(mode="json")
    data["payload"]["file_name"] = "../../escape.mp4"
    response = await raw_post(
        url,
        data={"task": json.dumps(data)},
        files={"payload": ("x", b"abc")},
    )
    assert response.status_code == 400 and "plain name" in response.json()["error"]["message"]
    assert not store.exists() and not (store.parent / "escape.mp4").exists()


async def test_oversized_payload_is_refused_and_nothing_is_stored(url, store):
    task = segment_task()
    async with ServiceClient(timeout=30, retries=0) as client:
        with pytest.raises(TransportError) as err:
            await client.post_task(url, task, b"\0" * (LIMIT + 1))
    assert err.value.status == 413
    assert not store.exists()


async def test_chunked_upload_without_length_is_bounded_while_reading(serve, store):
    """No Content-Length: the server must stop reading once the body passes its bound, not spool it all."""
    url = serve(make_app(store, max_payload=1024 * 1024)) + "/tasks"
    boundary = "dayu-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="task"\r\n\r\n{segment_task().to_json()}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="payload"; filename="x.mp4"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()

    async def chunks():
        yield head
        for _ in range(40):  # 40 MB offered; the bound is about 17 MB
            yield b"\0" * (1 << 20)
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    response = await raw_post(url, content=chunks(), headers=headers)
    assert response.status_code == 413
    # This message comes from the bounded reader; a fully spooled upload would be refused by size instead.
    assert "request body exceeds the limit" in response.json()["error"]["message"]
    assert not store.exists()


def test_safe_path_and_copy(tmp_path):
    assert safe_path(tmp_path, "a.mp4") == tmp_path / "a.mp4"
    for bad in ("../a", "/etc/passwd", "", "a/b"):
        with pytest.raises(InvalidInput, match="plain name"):
            safe_path(tmp_path, bad)
    src = tmp_path / "src.bin"
    src.write_bytes(b"xyz")
    assert copy_into(src, tmp_path / "node", "c.bin").read_bytes() == b"xyz"
