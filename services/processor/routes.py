"""Processor routes: /process, /queue, /queue/clear, /model."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response

from common.contracts.openapi import body as request_body
from common.contracts.processor import ModelInfo, QueueCleared, QueueLength
from common.errors import InvalidInput, NotFound, PayloadTooLarge, UpstreamTimeout
from common.task import SENTINELS, Task
from common.wire import safe_path
from services.processor.engine import Engine
from services.processor.queue import Job

router = APIRouter()


async def read_limited_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def check_task(task: Task, service: str | None) -> None:
    stage = task.stage
    if task.cursor in SENTINELS:
        raise InvalidInput(f"stage {task.cursor!r} is a sentinel; a processor runs service stages only")
    if service is not None and stage.service != service:
        raise InvalidInput(
            f"stage {task.cursor!r} runs service {stage.service!r} but this processor serves {service!r}",
            detail={"stage": task.cursor, "service": stage.service, "expected": service},
        )
    if not task.payload.file_name:
        raise InvalidInput("the task names no segment file (payload.file_name)")


@router.post("/process", response_model=Task, openapi_extra=request_body(Task))
async def process(request: Request) -> Response:
    """Run the task's current stage on its segment (in the node's work dir); the reply is the task with the
    stage's result and timings."""
    engine = _engine(request)
    body = await read_limited_body(request, engine.config.max_body_bytes)
    task = Task.from_json(body)
    check_task(task, request.app.state.service)
    path = safe_path(engine.work_dir, task.payload.file_name or "")
    if not path.is_file():
        raise NotFound(f"segment {path.name!r} is not in this node's work dir", detail={"file": path.name})

    loop = asyncio.get_running_loop()
    future: asyncio.Future[Task] = loop.create_future()

    def settle(outcome: Task | BaseException) -> None:
        if future.done():
            return
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    def resolve(outcome: Task | BaseException) -> None:
        loop.call_soon_threadsafe(settle, outcome)

    job = Job(task=task, resolve=resolve)
    engine.submit(job)
    try:
        done = await asyncio.wait_for(asyncio.shield(future), timeout=engine.config.result_timeout)
    except TimeoutError:
        job.cancelled = True
        raise UpstreamTimeout(
            f"no result within {engine.config.result_timeout:g}s", detail={"timeout_s": engine.config.result_timeout}
        ) from None
    # Serialised by pydantic in one step: FastAPI's generic encoding of the same dict costs several times more.
    return Response(done.model_dump_json(), media_type="application/json")


@router.get("/queue")
async def queue_length(request: Request) -> QueueLength:
    engine = _engine(request)
    return QueueLength(length=len(engine.queue), capacity=engine.queue.capacity)


@router.post("/queue/clear")
async def queue_clear(request: Request) -> QueueCleared:
    return QueueCleared(cleared=_engine(request).clear())


@router.get("/model")
async def model_info(request: Request) -> ModelInfo:
    return _engine(request).info(request.app.state.service)
