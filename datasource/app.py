"""The datasource service: simulated cameras playing datasets over HTTP (segments) or RTSP.

Routes (token required, see docs/datasource.md): ``GET /streams``, ``POST /streams/{id}/open``,
``POST /streams/{id}/close``, ``GET /streams/{id}``, ``GET /streams/{id}/segment``,
``POST /streams/{id}/reset``, ``GET /datasets``, ``PUT /datasets/{name}`` (add a video file). Their bodies
and replies are the models of :mod:`common.contracts.datasource`; the segment body is :mod:`common.segment_wire`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import ValidationError

from common.config import load_component_config
from common.contracts.datasource import (
    ClientReset,
    DatasetAdded,
    DatasetList,
    StreamClosed,
    StreamInfo,
    StreamList,
    StreamOpen,
)
from common.contracts.openapi import media
from common.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, Unavailable
from common.segment_wire import MEDIA_TYPE, SegmentHeader, WireFrame, encode_segment
from common.service import create_service
from common.task import describe_validation_error
from datasource.config import DatasourceConfig, DatasourceSettings, SourceSpec
from datasource.ingest import DATASET_NAME, WORK_PREFIX, add_video, receive
from datasource.player import Stream
from datasource.rtsp import RtspProcess, rtsp_support

log = logging.getLogger(__name__)
router = APIRouter()


class Streams:
    """The sources being served (app state)."""

    def __init__(self, settings: DatasourceSettings) -> None:
        self.settings = settings
        self.streams: dict[str, Stream] = {}
        self.rtsp: dict[str, RtspProcess] = {}
        self.lock = asyncio.Lock()
        self.adding: set[str] = set()  # dataset names being added: a second upload of one is a 409

    async def open(self, spec: SourceSpec) -> Stream:
        async with self.lock:
            current = self.streams.get(spec.id)
            if current is not None and current.spec == spec:
                return current  # idempotent: opening an open source changes nothing
            stream = await asyncio.to_thread(Stream, spec, self.settings.root, max_clients=self.settings.max_clients)
            process = await asyncio.to_thread(self._start_rtsp, stream) if spec.mode == "rtsp" else None
            self._drop(spec.id)
            self.streams[spec.id] = stream
            if process is not None:
                self.rtsp[spec.id] = process
            return stream

    def _start_rtsp(self, stream: Stream) -> RtspProcess:
        ok, why = rtsp_support(self.settings.rtsp_python)
        if not ok:
            raise Unavailable(f"RTSP mode is not available here: {why}", detail={"source": stream.spec.id})
        assert stream.manifest is not None and stream.spec.dataset is not None
        if stream.size != stream.source_size or stream.spec.fps not in (None, stream.manifest.fps):
            raise InvalidInput("RTSP mode serves the clips as they are: leave resolution and fps unset")
        location = str(self.settings.root / stream.spec.dataset / "clips" / "*.mp4")
        return RtspProcess(
            self.settings.rtsp_python, self.settings.host, stream.spec.id, location, self.settings.work_dir
        )

    def _drop(self, source_id: str) -> bool:
        stream = self.streams.pop(source_id, None)
        process = self.rtsp.pop(source_id, None)
        if process is not None:
            process.stop()
        if stream is not None:
            stream.close()
        return stream is not None

    async def close(self, source_id: str) -> bool:
        async with self.lock:
            return await asyncio.to_thread(self._drop, source_id)

    def get(self, source_id: str) -> Stream:
        stream = self.streams.get(source_id)
        if stream is None:
            raise NotFound(f"source {source_id!r} is not open; open it with POST /streams/{source_id}/open")
        return stream

    def info(self, stream: Stream) -> StreamInfo:
        process = self.rtsp.get(stream.spec.id)
        return StreamInfo(**stream.info(), rtsp_url=process.url if process is not None else None)

    def close_all(self) -> None:
        for source_id in list(self.streams):
            self._drop(source_id)


def streams_of(request: Request) -> Streams:
    streams: Streams = request.app.state.streams
    return streams


@router.get("/streams", summary="Sources being served")
async def list_streams(request: Request) -> StreamList:
    streams = streams_of(request)
    return StreamList([streams.info(s) for s in streams.streams.values()])


@router.post("/streams/{source_id}/open", summary="Start serving a source (idempotent)")
async def open_stream(source_id: str, body: StreamOpen, request: Request) -> StreamInfo:
    try:
        spec = SourceSpec.model_validate({"id": source_id, **body.model_dump(exclude_none=True)})
    except ValidationError as exc:
        raise InvalidInput(f"cannot open {source_id!r}: {describe_validation_error(exc)}") from None
    streams = streams_of(request)
    return streams.info(await streams.open(spec))


@router.post("/streams/{source_id}/close", summary="Stop serving a source")
async def close_stream(source_id: str, request: Request) -> StreamClosed:
    return StreamClosed(id=source_id, closed=await streams_of(request).close(source_id))


@router.get("/streams/{source_id}", summary="A source's native properties and clients")
async def stream_info(source_id: str, request: Request) -> StreamInfo:
    streams = streams_of(request)
    return streams.info(streams.get(source_id))


@router.post("/streams/{source_id}/reset", summary="Restart a client's playback from the first frame")
async def reset_client(source_id: str, request: Request, client: str = Query("default", max_length=128)) -> ClientReset:
    streams_of(request).get(source_id).reset(client)
    return ClientReset(id=source_id, client=client, reset=True)


@router.get(
    "/streams/{source_id}/segment",
    summary="The client's next frames, paced at the source fps",
    response_class=Response,
    responses=media(MEDIA_TYPE, "One JSON header line (SegmentHeader), then the frames' images back to back."),
)
async def segment(
    source_id: str,
    request: Request,
    client: str = Query("default", min_length=1, max_length=128, description="Who is reading (own cursor)."),
    frames: int = Query(4, description="How many frames."),
    fps: float | None = Query(None, description="Planned rate: frames in between are skipped here."),
    format: str = Query("jpeg", pattern="^(jpeg|png)$", description="Image format of the frames."),
    quality: int = Query(90, ge=10, le=100, description="JPEG quality."),
) -> Response:
    streams = streams_of(request)
    stream = streams.get(source_id)
    if stream.spec.mode != "http":
        raise Conflict(f"source {source_id!r} is served over RTSP at {streams.info(stream).rtsp_url}")
    reader = stream.client(client)
    if not reader.lock.acquire(blocking=False):
        raise Conflict(f"client {client!r} already has a segment request in flight on {source_id!r}")
    try:
        positions: list[int] = []
        due = 0.0
        if not reader.finished:
            positions, due = stream.plan(reader, frames, fps)
        wait = due - time.monotonic()
        if wait > streams.settings.max_wait_s:
            raise InvalidInput(f"these frames are {wait:.1f}s away, more than the {streams.settings.max_wait_s}s limit")
        if wait > 0:
            await asyncio.sleep(wait)  # pacing: the frames exist only once the camera has "seen" them
        seg = await asyncio.to_thread(stream.read_segment, reader, positions)
        header = SegmentHeader(
            source=source_id,
            client=client,
            finished=seg.finished,
            width=stream.size[0],
            height=stream.size[1],
            fps=stream.fps,
            format="png" if format == "png" else "jpeg",
            frames=[WireFrame(index=f.index, timestamp=round(f.timestamp, 6), truth=f.truth) for f in seg.frames],
        )
        body = await asyncio.to_thread(encode_segment, header, [f.image for f in seg.frames], quality)
    finally:
        reader.lock.release()
    return Response(body, media_type=MEDIA_TYPE, headers={"X-Dayu-Finished": "1" if seg.finished else "0"})


@router.get("/datasets", summary="Datasets under the root")
async def datasets(request: Request) -> DatasetList:
    root = streams_of(request).settings.root
    if not root.is_dir():
        return DatasetList([])
    return DatasetList(sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")))


@router.put(
    "/datasets/{name}",
    summary="Add a video file as a dataset (the request body is the file); it has no ground truth",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def add_dataset(
    request: Request,
    name: str = PathParam(pattern=DATASET_NAME, max_length=40, description="Dataset name, a plain directory name."),
    file_name: str = Query("", max_length=255, description="The file's original name (informative)."),
    description: str = Query("", max_length=500, description="What the video shows."),
) -> DatasetAdded:
    streams = streams_of(request)
    settings = streams.settings
    root = settings.root
    if (root / name).exists() or name in streams.adding:
        raise Conflict(f"dataset {name!r} exists already; pick another name", detail={"dataset": name})
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > settings.max_video_bytes:
        limit = settings.max_video_bytes
        raise PayloadTooLarge(f"the video is larger than the {limit}-byte limit", detail={"limit": limit})
    root.mkdir(parents=True, exist_ok=True)
    streams.adding.add(name)
    try:
        handle, raw = tempfile.mkstemp(prefix=f"{WORK_PREFIX}{name}-", suffix=".upload", dir=root)
        os.close(handle)
        upload = Path(raw)
        size = await receive(request.stream(), upload, settings.max_video_bytes)
        return await asyncio.to_thread(
            add_video,
            root,
            name,
            upload,
            file_name=file_name or f"{name}.mp4",
            description=description,
            max_frames=settings.max_video_frames,
            size=size,
        )
    finally:
        streams.adding.discard(name)


def create_app(settings: DatasourceSettings | None = None) -> FastAPI:
    settings = settings or DatasourceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        streams = Streams(settings)
        app.state.streams = streams
        if settings.config:
            config = load_component_config(settings.config, DatasourceConfig)
            for spec in config.sources:
                await streams.open(spec)
        try:
            yield
        finally:
            await asyncio.to_thread(streams.close_all)

    def health(app: FastAPI) -> dict[str, Any]:
        return {"streams": len(app.state.streams.streams)} if hasattr(app.state, "streams") else {}

    return create_service("datasource", settings, routers=[router], lifespan=lifespan, health=health)
