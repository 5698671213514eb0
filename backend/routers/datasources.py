"""Datasource configs: upload several YAML files at once (a result per file), list, read, delete; add a video
file as a datasource of its own."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import PurePath
from typing import Annotated

import yaml
from fastapi import APIRouter, Form, UploadFile

from backend.contracts.catalog import (
    DatasourceInfo,
    DatasourceList,
    DatasourceRecord,
    DatasourceUpload,
    Deleted,
    UploadReport,
    UploadResult,
    VideoAdded,
    VideoUpload,
)
from backend.datasource_config import parse_datasource
from backend.plane import ControlPlane, Plane
from common.contracts.datasource import DatasetAdded
from common.contracts.openapi import raises
from common.errors import Conflict, DayuError, DecodeError, InvalidInput, PayloadTooLarge, TransportError, Unavailable
from common.transport import parse_reply

router = APIRouter(prefix="/api/datasources", tags=["datasources"])
MAX_FILES = 32
CHUNK = 1024 * 1024
VIDEO_TIMEOUT_S = 600.0  # the datasource decodes (and may transcode) every frame before it answers
# The datasource's refusals of a video keep their meaning here: the caller's file was wrong, not the service.
PASSED_ON: dict[int, type[DayuError]] = {400: InvalidInput, 409: Conflict, 413: PayloadTooLarge, 422: DecodeError}


def is_open(plane: ControlPlane, datasource: str) -> bool:
    return plane.installer.query().open and plane.installer.state().datasource == datasource


def in_use(plane: ControlPlane, datasource: str) -> bool:
    install = plane.installer.state()
    return install.phase in ("installing", "installed", "degraded") and install.datasource == datasource


@router.post("", summary="Upload datasource config files (YAML); each gets its own result")
async def upload(form: Annotated[DatasourceUpload, Form()], plane: Plane) -> UploadReport:
    files = form.files
    if not files:
        raise InvalidInput("no file uploaded")
    if len(files) > MAX_FILES:
        raise InvalidInput(f"at most {MAX_FILES} files per upload, got {len(files)}")
    limit = plane.settings.max_upload_bytes
    contents = []
    for upload_file in files:
        name = upload_file.filename or "upload.yaml"
        data = await upload_file.read(limit + 1)
        if len(data) > limit:
            # Refused whole: the request is too large for this route, whatever its other files hold.
            raise PayloadTooLarge(f"{name}: larger than {limit} bytes", detail={"file": name, "limit": limit})
        contents.append((name, data))
    results: list[UploadResult] = []
    for name, data in contents:
        try:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput(f"{name}: not UTF-8 text") from None
            config = parse_datasource(text, name)
            plane.store.add_datasource(config.name, name, text, config.model_dump(mode="json"))
            results.append(UploadResult(file=name, ok=True, id=config.name, sources=[s.id for s in config.sources]))
        except DayuError as exc:
            results.append(UploadResult(file=name, ok=False, error=exc.message, detail=exc.detail))
    return UploadReport(results=results, ok=all(r.ok for r in results))


def video_name(requested: str | None, file_name: str) -> str:
    """The id a video gets: the one asked for, else its file name's stem made DNS-safe."""
    if requested:
        return requested
    stem = re.sub(r"[^a-z0-9]+", "-", PurePath(file_name).stem.lower()).strip("-")[:40].strip("-")
    if not stem:
        raise InvalidInput(f"cannot make a name from the file name {file_name!r}: give `name`")
    return stem


async def chunks(upload: UploadFile, limit: int) -> AsyncIterator[bytes]:
    size = 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the video is larger than the {limit}-byte limit", detail={"limit": limit})
        yield chunk


@router.post(
    "/video",
    summary="Add a video file as a datasource of one source (no ground truth: accuracy against the golden config)",
    status_code=201,
    responses=raises(Conflict, Unavailable, TransportError),
)
async def add_video(form: Annotated[VideoUpload, Form()], plane: Plane) -> VideoAdded:
    file_name = PurePath(form.file.filename or "video.mp4").name
    name = video_name(form.name, file_name)
    if any(d["id"] == name for d in plane.store.list_datasources()):
        raise Conflict(f"a datasource config named {name!r} exists already; give another `name`")
    base = plane.settings.datasource_url
    if not base:
        raise Unavailable("videos are stored by the datasource service, and its URL is not configured")
    limit = plane.settings.max_video_bytes
    if form.file.size is not None and form.file.size > limit:
        raise PayloadTooLarge(f"the video is larger than the {limit}-byte limit", detail={"limit": limit})
    url = f"{base.rstrip('/')}/datasets/{name}"
    response = await plane.client.request(
        "PUT",
        url,
        content=chunks(form.file, limit),
        params={"file_name": file_name, "description": form.description},
        headers={"Content-Type": "application/octet-stream"},
        idempotent=False,
        retries=0,
        timeout=VIDEO_TIMEOUT_S,
        raise_for_status=False,
    )
    if response.status_code >= 400:
        try:
            message = str(response.json()["error"]["message"])
        except (ValueError, KeyError, TypeError):
            message = response.text[:300]
        error = PASSED_ON.get(response.status_code)
        if error is None:
            raise TransportError(f"the datasource answered {response.status_code}: {message}", url=url)
        raise error(f"{file_name}: {message}", detail={"file": file_name, "dataset": name})
    dataset = parse_reply(response, DatasetAdded)
    source = {"id": name, "name": file_name, "mode": form.mode, "dataset": name, "ground_truth": False}
    description = form.description or f"{file_name} ({dataset.width}x{dataset.height}, {dataset.fps:g} fps)"
    text = yaml.safe_dump({"name": name, "description": description, "sources": [source]}, sort_keys=False)
    config = parse_datasource(text, f"{name}.yaml")
    plane.store.add_datasource(config.name, f"{name}.yaml", text, config.model_dump(mode="json"))
    return VideoAdded(datasource=DatasourceRecord(**plane.store.get_datasource(name)), dataset=dataset)


@router.get("", summary="Every datasource config")
async def list_datasources(plane: Plane) -> DatasourceList:
    return DatasourceList(
        [
            DatasourceInfo(**d, open=is_open(plane, d["id"]), installed=in_use(plane, d["id"]))
            for d in plane.store.list_datasources()
        ]
    )


@router.get("/{ident}", summary="One datasource config")
async def get_datasource(ident: str, plane: Plane) -> DatasourceRecord:
    return DatasourceRecord(**plane.store.get_datasource(ident))


@router.delete("/{ident}", summary="Delete a datasource config (refused while it is open or installed)")
async def delete_datasource(ident: str, plane: Plane) -> Deleted:
    plane.store.get_datasource(ident)
    if is_open(plane, ident):
        raise Conflict(f"datasource {ident!r} is open; close it first", detail={"datasource": ident})
    if in_use(plane, ident):
        raise Conflict(f"datasource {ident!r} is installed; uninstall first", detail={"datasource": ident})
    plane.store.delete_datasource(ident)
    return Deleted(deleted=ident)
