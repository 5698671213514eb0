"""Wire format between services: multipart with a JSON part ``task`` and an optional part ``payload``.

Between a controller and a processor on the same node only the task JSON travels (the segment is
in the node's shared work directory); across nodes the segment bytes travel too. One controller hands
a task and its segment to another in one call with a framed body (:func:`framed_task`): the task JSON
then the segment bytes, split at the length given in a header. Unlike multipart it needs no parsing
and nothing is spooled through a thread: the segment goes straight into its file.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.types import Message

from common.errors import DayuError, InvalidInput, PayloadTooLarge
from common.task import Task, check_file_name

TASK_FIELD = "task"
PAYLOAD_FIELD = "payload"
DEFAULT_MAX_PAYLOAD = 256 * 1024 * 1024
MAX_TASK_BYTES = 16 * 1024 * 1024
"""Largest task JSON accepted (a task carries results and ground truth, never the segment)."""
FORM_OVERHEAD = 64 * 1024
FRAMED_CONTENT_TYPE = "application/x-dayu-task+segment"
TASK_BYTES_HEADER = "X-Dayu-Task-Bytes"
"""Length of the task JSON at the start of a framed body; the segment bytes follow it."""
LINK_WAIT_HEADER = "X-Dayu-Link-Wait"
"""Seconds the sender held the transfer back for its (shaped) link before sending, on the sender's clock."""


def multipart_parts(task: Task, payload: bytes | None = None, filename: str | None = None) -> dict[str, Any]:
    """Arguments for ``httpx`` (``data=`` / ``files=``) sending one task with an optional payload."""
    parts: dict[str, Any] = {"data": {TASK_FIELD: task.to_json()}}
    if payload is not None:
        name = filename or task.payload.file_name or "segment.bin"
        parts["files"] = {PAYLOAD_FIELD: (name, payload, "application/octet-stream")}
    return parts


def _bounded(request: Request, limit: int) -> Request:
    """The same request, whose body stops with :class:`PayloadTooLarge` once it passes ``limit`` bytes.

    A chunked upload declares no length, and Starlette spools file parts to disk without a bound.
    """
    seen = 0
    receive = request.receive

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        return message

    return Request(request.scope, counted)


async def read_task_form(request: Request, *, max_payload: int = DEFAULT_MAX_PAYLOAD) -> tuple[Task, UploadFile | None]:
    """Parse a multipart task request. Malformed input raises a 4xx :class:`DayuError`."""
    limit = max_payload + MAX_TASK_BYTES + FORM_OVERHEAD
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request of {declared} bytes exceeds the limit of {limit} bytes")
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        task, _ = await read_task_json(request)
        return task, None
    # httpx sends a form without a file part as urlencoded: same fields, so accept it too.
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise InvalidInput(f"expected multipart/form-data or application/json, got {content_type or 'nothing'!r}")
    try:
        form = await _bounded(request, limit).form(max_files=1, max_fields=4, max_part_size=MAX_TASK_BYTES)
    except DayuError:
        raise
    except Exception as exc:  # starlette raises its own parse errors; they are the caller's fault
        raise InvalidInput(f"malformed multipart body: {exc}") from None
    try:
        raw = form.get(TASK_FIELD)
        if raw is None:
            raise InvalidInput(f"multipart body lacks the {TASK_FIELD!r} part")
        text = await raw.read() if isinstance(raw, UploadFile) else raw
        task = Task.from_json(text)
        upload = form.get(PAYLOAD_FIELD)
        if upload is not None and not isinstance(upload, UploadFile):
            raise InvalidInput(f"the {PAYLOAD_FIELD!r} part must be a file")
        if upload is not None and upload.size is not None and upload.size > max_payload:
            raise PayloadTooLarge(f"payload of {upload.size} bytes exceeds the limit of {max_payload} bytes")
    except BaseException:
        await form.close()  # the spooled upload goes now, not whenever it is collected
        raise
    return task, upload


async def read_task_json(request: Request) -> tuple[Task, bytes]:
    """A task sent as a JSON body (at most :data:`MAX_TASK_BYTES`), and the body it was parsed from."""
    chunks = [chunk async for chunk in _bounded(request, MAX_TASK_BYTES).stream()]
    body = b"".join(chunks)
    return Task.from_json(body), body


def safe_path(directory: Path, name: str) -> Path:
    """``directory / name`` for a plain file name; anything that could escape is refused."""
    try:
        check_file_name(name)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    return directory / name


async def save_upload(upload: UploadFile, directory: Path, name: str, *, max_bytes: int = DEFAULT_MAX_PAYLOAD) -> Path:
    """Store an uploaded payload as ``directory/name`` atomically (temp file + rename)."""
    target = safe_path(directory, name)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".upload-")
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            await upload.seek(0)
            while chunk := await upload.read(1024 * 1024):
                written += len(chunk)
                if written > max_bytes:
                    raise PayloadTooLarge(f"payload exceeds the limit of {max_bytes} bytes")
                out.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def copy_into(src: Path, directory: Path, name: str) -> Path:
    target = safe_path(directory, name)
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, target)
    return target


def framed_task(task: Task, payload: bytes, *, link_wait: float = 0.0) -> tuple[bytes, dict[str, str]]:
    """Body and headers sending ``task`` with its segment in one call (see the module doc)."""
    head = task.to_json().encode()
    headers = {
        "content-type": FRAMED_CONTENT_TYPE,
        TASK_BYTES_HEADER: str(len(head)),
        LINK_WAIT_HEADER: f"{link_wait:.6f}",
    }
    return head + payload, headers


def _header_number(request: Request, name: str, kind: type[int] | type[float], limit: float) -> float:
    raw = request.headers.get(name)
    if raw is None:
        raise InvalidInput(f"a framed task needs the {name} header")
    try:
        value = kind(raw)
    except ValueError:
        raise InvalidInput(f"header {name} must be a number, got {raw[:40]!r}") from None
    if not (math.isfinite(value) and 0 <= value <= limit):
        raise InvalidInput(f"header {name} must be between 0 and {limit:g}, got {raw[:40]!r}")
    return value


def link_wait_of(request: Request) -> float | None:
    """The sender's link wait that a task sent without its segment carries in ``LINK_WAIT_HEADER`` (its
    transmit: the JSON is written once, before the wait, so the figure cannot be inside it); None without it."""
    if LINK_WAIT_HEADER.lower() not in request.headers:
        return None
    return _header_number(request, LINK_WAIT_HEADER, float, 24 * 3600)


async def read_framed_task(request: Request, directory: Path, *, max_payload: int) -> tuple[Task, float]:
    """Read a framed task and store its segment as ``directory/<payload.file_name>`` atomically.

    Returns the task and the transfer time: the sender's link wait plus the time the body took to
    arrive here, each measured on one clock. Bad input raises a 4xx :class:`DayuError` and leaves no file.
    """
    started = time.perf_counter()
    task_bytes = int(_header_number(request, TASK_BYTES_HEADER, int, MAX_TASK_BYTES))
    link_wait = _header_number(request, LINK_WAIT_HEADER, float, 24 * 3600)
    limit = task_bytes + max_payload
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request of {declared} bytes exceeds the limit of {limit} bytes")
    head = bytearray()
    chunks = _bounded(request, limit).stream()
    rest = b""
    async for chunk in chunks:
        head += chunk
        if len(head) >= task_bytes:
            rest = bytes(head[task_bytes:])
            del head[task_bytes:]
            break
    if len(head) < task_bytes:
        raise InvalidInput(f"the body ends inside the task JSON ({len(head)} of {task_bytes} bytes)")
    task = Task.from_json(bytes(head))
    name = task.payload.file_name
    if not name:
        raise InvalidInput("a task sent with a segment must name its file (payload.file_name)")
    target = safe_path(directory, name)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".upload-")
    size = 0
    try:
        # A new file then a rename: overwriting an existing file in place costs several times more.
        with os.fdopen(fd, "wb") as out:
            if rest:
                out.write(rest)
                size += len(rest)
            async for chunk in chunks:
                out.write(chunk)
                size += len(chunk)
        if size == 0:
            raise InvalidInput(f"the segment {name!r} sent with the task is empty")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return task, link_wait + (time.perf_counter() - started)
