"""Datasource configs: upload several YAML files at once (a result per file), list, read, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form

from backend.contracts.catalog import (
    DatasourceInfo,
    DatasourceList,
    DatasourceRecord,
    DatasourceUpload,
    Deleted,
    UploadReport,
    UploadResult,
)
from backend.datasource_config import parse_datasource
from backend.plane import ControlPlane, Plane
from common.errors import Conflict, DayuError, InvalidInput, PayloadTooLarge

router = APIRouter(prefix="/api/datasources", tags=["datasources"])
MAX_FILES = 32


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
