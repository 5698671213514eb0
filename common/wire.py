"""Wire format between services: multipart with a JSON part ``task`` and an optional part ``payload``.

Between a controller and a processor on the same node only the task JSON travels (the segment is
in the node's shared work directory); across nodes the segment bytes travel too.
"""

from __future__ import annotations

import os
import shutil
import tempfile
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
        body = b""
        async for chunk in _bounded(request, MAX_TASK_BYTES).stream():
            body += chunk
        return Task.from_json(body), None
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
