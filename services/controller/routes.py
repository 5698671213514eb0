"""Controller routes: ``POST /tasks``, ``PUT /files/{name}``, ``GET /files/{name}``, ``GET /status``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from common.contracts.controller import ControllerStatus, FileStored, TaskAccepted, TaskForm
from common.contracts.openapi import body, media, reply
from common.dag import topological_order
from common.errors import DayuError, InvalidInput, NotFound, PayloadTooLarge
from common.task import END, Task
from common.wire import (
    FRAMED_CONTENT_TYPE,
    link_wait_of,
    read_framed_task,
    read_task_form,
    read_task_json,
    safe_path,
    save_upload,
)
from services.controller.dispatcher import Dispatcher

router = APIRouter()


def _dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


def check_routable(task: Task, work_dir: Path) -> None:
    """Refuse, with a 4xx, a task this controller could never route."""
    topological_order(task.dag)  # a cyclic DAG raises DagError (400)
    if task.cursor == END and task.stage.next:
        raise InvalidInput("_end cannot have successors")
    name = task.payload.file_name
    if not name:
        raise InvalidInput("the task names no segment file (payload.file_name)")
    if task.cursor == END:
        return  # a result needs no segment here: it may stay on the node that ran the last stage
    if not safe_path(work_dir, name).is_file():
        raise NotFound(
            f"segment {name!r} is not in this node's work dir: upload it with the task or by PUT /files/{name}",
            detail={"file": name},
        )


def _routable_or_forget(task: Task, work_dir: Path, *, stored: bool) -> None:
    """:func:`check_routable`; a refused task's segment that this request stored goes with it."""
    try:
        check_routable(task, work_dir)
    except DayuError:
        if stored and task.payload.file_name:
            safe_path(work_dir, task.payload.file_name).unlink(missing_ok=True)
        raise


TASK_BODY = body(Task, media_types={"multipart/form-data": TaskForm, FRAMED_CONTENT_TYPE: None})
"""A task from a generator (JSON, or multipart: task JSON and maybe its segment), or from another node's controller
(framed: the task and its segment in one body, ``common.wire``)."""


@router.post("/tasks", status_code=202, response_model=TaskAccepted, openapi_extra=TASK_BODY)
async def submit(request: Request) -> Response:
    dispatcher = _dispatcher(request)
    limit = dispatcher.config.max_payload_bytes
    if request.headers.get("content-type", "").startswith(FRAMED_CONTENT_TYPE):
        # From another node's controller: the task with its segment; the transfer is the stage's transmit.
        task, transmit = await read_framed_task(request, dispatcher.work_dir, max_payload=limit)
        task.stage.timings.transmit = transmit
        _routable_or_forget(task, dispatcher.work_dir, stored=True)
        return _accepted(dispatcher, task)
    wait = link_wait_of(request)  # from another node's controller: a result sent without its segment
    if request.headers.get("content-type", "").startswith("application/json"):
        # The body is the task's JSON: unless the link wait changes the task, the journal keeps it as it came.
        task, received = await read_task_json(request)
        if wait is not None:
            task.stage.timings.transmit = wait
        _routable_or_forget(task, dispatcher.work_dir, stored=False)
        return _accepted(dispatcher, task, received if wait is None else None)
    task, upload = await read_task_form(request, max_payload=limit)
    if wait is not None:
        task.stage.timings.transmit = wait
    if upload is not None:
        if not task.payload.file_name:
            raise InvalidInput("a task sent with a payload must name its file (payload.file_name)")
        if upload.size == 0:
            raise InvalidInput(f"the payload of segment {task.payload.file_name!r} is empty")
        await save_upload(upload, dispatcher.work_dir, task.payload.file_name, max_bytes=limit)
    _routable_or_forget(task, dispatcher.work_dir, stored=upload is not None)
    return _accepted(dispatcher, task)


def _accepted(dispatcher: Dispatcher, task: Task, received: bytes | None = None) -> Response:
    """Take the task; the reply tells the sender how much this node admits now (back-pressure to sources)."""
    outcome = dispatcher.accept(task, received)
    admit, pressure = dispatcher.admission.signal()
    return reply(TaskAccepted(accepted=task.task_uuid, outcome=outcome, admit=admit, pressure=pressure), 202)


@router.put("/files/{name}", openapi_extra=body(media_types={"application/octet-stream": None}))
async def put_file(name: str, request: Request) -> FileStored:
    """Store one segment sent by another node's controller (raw body), atomically."""
    dispatcher = _dispatcher(request)
    target = safe_path(dispatcher.work_dir, name)
    limit = dispatcher.config.max_payload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"segment of {declared} bytes exceeds the limit of {limit} bytes")
    dispatcher.work_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dispatcher.work_dir, prefix=".upload-")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"segment exceeds the limit of {limit} bytes")
                out.write(chunk)
        if size == 0:
            raise InvalidInput(f"segment {name!r} is empty")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return FileStored(stored=name, size=size)


@router.get(
    "/files/{name}",
    response_class=FileResponse,
    responses=media("application/octet-stream", "A segment in this node's work dir, in its container (e.g. MP4)."),
)
async def get_file(name: str, request: Request) -> FileResponse:
    """A segment this node still keeps (for ``segment_ttl_s``): a result that finished here went to the cloud
    without it, and the dashboard shows its frame from here."""
    dispatcher = _dispatcher(request)
    path = safe_path(dispatcher.work_dir, name)
    if name.startswith(".") or not path.is_file():
        raise NotFound(
            f"segment {name!r} is not on this node (kept for {dispatcher.config.segment_ttl_s:g}s)",
            detail={"file": name},
        )
    return FileResponse(path, media_type="application/octet-stream")


@router.get("/status")
async def status(request: Request) -> ControllerStatus:
    return _dispatcher(request).status()
