"""System figures (cpu, memory, bandwidth, queues, scheduling overhead) and exports."""

from __future__ import annotations

import contextlib
import gzip
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from backend.contracts.views import SystemHistory, SystemSnapshot
from backend.plane import Plane
from common.contracts.openapi import raises
from common.disposition import attachment
from common.errors import Conflict, DayuError, TransportError, Unavailable, UpstreamTimeout
from common.task import SOURCE_ID_PATTERN

router = APIRouter(prefix="/api", tags=["system"])
GZIP_JSONL: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "gzip-compressed JSON Lines, one record per line (a download).",
        "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.get(
    "/system",
    summary="A fresh system snapshot",
    responses=raises(Conflict, Unavailable, TransportError, UpstreamTimeout),
)
async def system(plane: Plane) -> SystemSnapshot:
    return await plane.sample_system()


@router.get("/system/history", summary="System snapshots taken after `after` (wall clock seconds)")
async def history(
    plane: Plane, after: float = Query(0.0, ge=0, description="Only snapshots after this time.")
) -> SystemHistory:
    return SystemHistory(snapshots=plane.snapshots.after(after))


@router.get(
    "/export/results",
    summary="Results and drop records as gzip JSON Lines, streamed from the distributor",
    response_class=StreamingResponse,
    responses={**GZIP_JSONL, **raises(Conflict, Unavailable)},
)
async def export_results(
    plane: Plane, source_id: str | None = Query(None, pattern=SOURCE_ID_PATTERN, description="Only this source.")
) -> StreamingResponse:
    distributor = plane.component_url("distributor")
    params = {"source_id": source_id} if source_id else {}
    url = f"{distributor}/export"

    async def body() -> AsyncIterator[bytes]:
        async with plane.client.stream("GET", url, params=params, timeout=60.0) as response:
            if response.status_code >= 400:
                text = (await response.aread())[:300].decode(errors="replace")
                raise TransportError(f"GET {url} answered {response.status_code}: {text}", url=url)
            async for chunk in response.aiter_raw():
                yield chunk

    name = f"dayu-results-{source_id or 'all'}-{int(time.time())}.jsonl.gz"
    headers = {"Content-Disposition": attachment(name)}
    return StreamingResponse(body(), media_type="application/gzip", headers=headers)


@router.get(
    "/export/system",
    summary="System snapshots as gzip JSON Lines",
    response_class=StreamingResponse,
    responses=GZIP_JSONL,
)
async def export_system(plane: Plane) -> StreamingResponse:
    if plane.installer.deployed():
        with contextlib.suppress(DayuError):
            await plane.sample_system()  # the export always ends with the present state
    lines = plane.snapshots.json_lines()
    name = f"dayu-system-{int(time.time())}.jsonl.gz"
    headers = {"Content-Disposition": attachment(name)}
    return StreamingResponse(iter([gzip.compress(lines)]), media_type="application/gzip", headers=headers)
