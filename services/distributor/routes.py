"""Distributor routes: results and drops in; incremental reads, export, files and stats out."""

from __future__ import annotations

import asyncio
import functools
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, TypeVar

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ValidationError

from common.contracts.controller import TaskForm
from common.contracts.distributor import (
    DistributorStats,
    DropAccepted,
    ResultAccepted,
    ResultBatch,
    ResultPage,
    ResultsAccepted,
)
from common.contracts.openapi import body, media, reply
from common.disposition import attachment
from common.errors import InvalidInput, NotFound, PayloadTooLarge
from common.records import DropRecord
from common.task import END, SOURCE_ID_PATTERN, Task, describe_validation_error
from common.wire import read_task_form, safe_path
from services.distributor.config import DistributorConfig
from services.distributor.recorder import Recorder
from services.distributor.segments import SegmentFiles
from services.distributor.store import ResultStore

BodyT = TypeVar("BodyT", bound=BaseModel)

router = APIRouter()
SEGMENT = "A stored segment file, in its encoding's container (e.g. MP4)."
EXPORT = "Every stored record (ResultRecord) as one JSON line, gzip-compressed."


def _config(request: Request) -> DistributorConfig:
    config: DistributorConfig = request.app.state.config
    return config


@router.post(
    "/results", response_model=ResultAccepted, openapi_extra=body(Task, media_types={"multipart/form-data": TaskForm})
)
async def post_result(request: Request) -> Response:
    """A finished task (at ``_end``), with its segment or by reference to this node's work dir."""
    config = _config(request)
    task, upload = await read_task_form(request, max_payload=config.max_payload_bytes)
    if task.cursor != END:
        raise InvalidInput(f"task is at stage {task.cursor!r}; the distributor takes tasks at {END!r}")
    if upload is not None:
        if not task.payload.file_name:
            raise InvalidInput("a segment was sent but the task names no payload.file_name")
        segments: SegmentFiles = request.app.state.segments
        await segments.store(upload, task.payload.file_name)
    keep = None
    if upload is None and task.payload.file_name:
        # Sent by reference: the segment lies in this node's work dir; keep it for display (in the thread
        # that stores the result).
        local = safe_path(Path(request.app.state.settings.work_dir), task.payload.file_name)
        keep = functools.partial(request.app.state.segments.adopt, local, task.payload.file_name)
    recorder: Recorder = request.app.state.recorder
    return reply(await recorder.accept_result(task, keep))


async def _json_body(request: Request, model: type[BodyT], what: str) -> BodyT:
    """The request's JSON body as ``model``: 413 over the config's body limit, 400 naming what is malformed."""
    limit = _config(request).max_body_bytes
    raw = await request.body()
    if len(raw) > limit:
        raise PayloadTooLarge(f"{what} of {len(raw)} bytes exceeds the limit of {limit} bytes")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidInput(f"malformed {what}: {describe_validation_error(exc)}") from None


@router.post("/results/batch", response_model=ResultsAccepted, openapi_extra=body(ResultBatch))
async def post_results(request: Request) -> Response:
    """Finished tasks by reference, many in one call (a controller's results of one interval). All or none:
    a task that ``POST /results`` would refuse refuses the batch, and nothing of it is stored."""
    batch = await _json_body(request, ResultBatch, "result batch")
    work_dir = Path(request.app.state.settings.work_dir)
    segments: SegmentFiles = request.app.state.segments
    keeps: list[Callable[[], object] | None] = []
    for number, task in enumerate(batch.tasks):
        if task.cursor != END:
            raise InvalidInput(f"task {number} is at stage {task.cursor!r}; the distributor takes tasks at {END!r}")
        name = task.payload.file_name
        keeps.append(functools.partial(segments.adopt, safe_path(work_dir, name), name) if name else None)
    recorder: Recorder = request.app.state.recorder
    answers = [await recorder.accept_result(task, keep) for task, keep in zip(batch.tasks, keeps, strict=True)]
    return reply(ResultsAccepted(results=answers))


@router.post("/drops", response_model=DropAccepted, openapi_extra=body(DropRecord))
async def post_drop(request: Request) -> Response:
    record = await _json_body(request, DropRecord, "drop record")
    recorder: Recorder = request.app.state.recorder
    return reply(await recorder.accept_drop(record))


@router.get("/results", response_model=ResultPage)
async def get_results(
    request: Request,
    after: Annotated[int, Query(ge=0, lt=2**63, description="Return records with seq greater than this.")] = 0,
    limit: Annotated[int, Query(ge=1, description="Records at most (capped by the config).")] = 100,
    source_id: Annotated[str | None, Query(max_length=128)] = None,
    tail: Annotated[
        int | None, Query(ge=1, description="Instead of paging after a cursor: the latest this many records.")
    ] = None,
) -> Response:
    store: ResultStore = request.app.state.store
    if tail is not None:
        records = await asyncio.to_thread(store.tail, min(tail, _config(request).page_limit), source_id)
    else:
        records = await asyncio.to_thread(store.page, after, min(limit, _config(request).page_limit), source_id)
    # Pages hold whole tasks: written by pydantic once, not dumped and re-validated by FastAPI.
    return reply(ResultPage(records=records, cursor=records[-1].seq if records else after))


@router.get("/export", response_class=StreamingResponse, responses=media("application/gzip", EXPORT))
async def export(
    request: Request, source_id: Annotated[str | None, Query(pattern=SOURCE_ID_PATTERN)] = None
) -> StreamingResponse:
    store: ResultStore = request.app.state.store
    page_size = _config(request).export_page

    async def gzip_lines() -> AsyncIterator[bytes]:
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: gzip container
        pages = store.pages(source_id, page_size)
        while True:
            page = await asyncio.to_thread(next, pages, None)
            if page is None:
                break
            text = "".join(record.model_dump_json() + "\n" for record in page)
            chunk = compressor.compress(text.encode())
            if chunk:
                yield chunk
        yield compressor.flush()

    name = f"dayu-results-{source_id or 'all'}.jsonl.gz"
    return StreamingResponse(
        gzip_lines(),
        media_type="application/gzip",
        headers={"Content-Disposition": attachment(name)},
    )


@router.get("/files/{name}", response_class=FileResponse, responses=media("application/octet-stream", SEGMENT))
async def get_file(request: Request, name: str) -> FileResponse:
    segments: SegmentFiles = request.app.state.segments
    path = segments.path(name)
    if not path.is_file():
        raise NotFound(f"segment {name!r} is not stored (kept: the last {segments.keep})", detail={"file": name})
    return FileResponse(path)


@router.get("/stats", response_model=DistributorStats)
async def stats(
    request: Request,
    source_id: Annotated[str | None, Query(pattern=SOURCE_ID_PATTERN, description="Only this source's counts.")] = None,
) -> Response:
    store: ResultStore = request.app.state.store
    recorder: Recorder = request.app.state.recorder
    sources = await asyncio.to_thread(store.stats, source_id)
    # Polled often while a run is watched: written once by pydantic.
    return reply(
        DistributorStats(sources=sources, pending_joins=len(recorder.joins), feedback_queue=len(recorder.feedback))
    )
