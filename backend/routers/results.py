"""Results per source with visualization data: incremental polling, a live stream (SSE), frame images."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from backend.contracts.views import ResultView, ResultViewPage
from backend.datasource_config import DatasourceConfig
from backend.plane import ControlPlane, Plane
from backend.views import result_view
from common.contracts.distributor import ResultPage as RecordPage
from common.contracts.openapi import event_stream
from common.errors import DayuError, DecodeError, NotFound, TransportError
from common.task import END

router = APIRouter(prefix="/api/results", tags=["results"])
SOURCE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
MAX_STREAM_S = 3600.0


async def fetch(
    plane: ControlPlane, source_id: str, after: int, limit: int, *, tail: int | None = None
) -> ResultViewPage:
    distributor = plane.component_url("distributor")
    params = {"after": str(after), "limit": str(limit), "source_id": source_id}
    if tail is not None:
        params["tail"] = str(tail)
    answer = await plane.client.get_model(f"{distributor}/results", RecordPage, params=params, timeout=10.0)
    install = plane.installer.state()
    reference = accuracy_reference(plane, install.datasource, source_id)
    views: list[ResultView] = []
    for record in answer.records:
        view = result_view(record, deployment=install.deployment, accuracy_reference=reference)
        if view.segment and view.seq is not None:
            view.image = f"/api/results/{source_id}/frames/{view.seq}.jpg"
        plane.remember(source_id, view)
        views.append(view)
    return ResultViewPage(records=views, cursor=answer.cursor)


def accuracy_reference(
    plane: ControlPlane, datasource: str | None, source_id: str
) -> Literal["ground_truth", "golden"] | None:
    """What the installed source's accuracy is measured against; None when its config is gone."""
    if datasource is None:
        return None
    try:
        config = DatasourceConfig.model_validate(plane.store.get_datasource(datasource)["config"])
        return config.source(source_id).accuracy_reference
    except DayuError:
        return None


@router.get("/{source_id}", summary="Results after `after` (a cursor), with visualization data")
async def results(
    source_id: str,
    plane: Plane,
    after: int = Query(0, ge=0, lt=2**63, description="Return records after this sequence number."),
    limit: int = Query(100, ge=1, le=1000, description="At most this many records."),
    tail: int | None = Query(
        None, ge=1, le=1000, description="Instead of paging after `after`: the latest this many records."
    ),
) -> ResultViewPage:
    _check_source(plane, source_id)
    return await fetch(plane, source_id, after, limit, tail=tail)


@router.get(
    "/{source_id}/stream",
    summary="Server-Sent Events: one `result` event (a ResultView) per record as it arrives",
    response_class=StreamingResponse,
    responses=event_stream("An event stream: `result` events, and `error` events with a message.", ResultView),
)
async def stream(
    source_id: str,
    request: Request,
    plane: Plane,
    after: int = Query(0, ge=0, lt=2**63, description="Start after this sequence number."),
    interval: float = Query(0.5, ge=0.1, le=10, description="Polling interval of the distributor, seconds."),
) -> StreamingResponse:
    _check_source(plane, source_id)

    async def events() -> AsyncIterator[bytes]:
        cursor = after
        loop = asyncio.get_running_loop()
        deadline = loop.time() + MAX_STREAM_S
        yield b": stream open\n\n"
        while loop.time() < deadline and not await request.is_disconnected():
            try:
                batch = await fetch(plane, source_id, cursor, 200)
            except DayuError as exc:
                yield f"event: error\ndata: {json.dumps({'message': exc.message})}\n\n".encode()
                await asyncio.sleep(interval * 4)
                continue
            for view in batch.records:
                yield f"id: {view.seq}\nevent: result\ndata: {view.model_dump_json()}\n\n".encode()
            cursor = batch.cursor or cursor
            if not batch.records:
                yield b": keep-alive\n\n"
                await asyncio.sleep(interval)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


@router.get(
    "/{source_id}/frames/{seq}.jpg",
    summary="First frame of a result's segment with boxes and labels",
    response_class=Response,
    responses={
        200: {
            "description": "A JPEG image.",
            "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def frame(
    source_id: str,
    seq: int,
    plane: Plane,
    boxes: bool = Query(True, description="Draw boxes and labels; false: the bare frame (the dashboard draws them)."),
) -> Response:
    recent = plane.recent.get(source_id)
    view = recent.get(seq) if recent is not None else None
    if view is None or not view.segment:
        raise NotFound(f"no recent result {seq} of source {source_id!r} with a segment")
    # A result that finished on the cloud left its segment with the distributor; one that finished on an edge
    # node crossed the link without it, and that node's controller keeps it for a while.
    holders = [("distributor", plane.component_url("distributor"))]
    last_node = finishing_node(view)
    if last_node is not None:
        with contextlib.suppress(DayuError):
            holders.append((f"the controller of {last_node}", plane.component_url("controller", last_node)))
    for holder, url in holders:
        response = await plane.client.request(
            "GET", f"{url}/files/{view.segment}", timeout=10.0, raise_for_status=False
        )
        if response.status_code == 404:
            continue
        if response.status_code >= 400:
            raise TransportError(f"{holder} answered {response.status_code} for the segment", url=url)
        objects = view.objects if boxes else []
        jpeg = await asyncio.to_thread(render_frame, response.content, objects, view.frame_index)
        # Each frame is asked for once: a browser need not keep it.
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
    where = " nor ".join(holder for holder, _ in holders)
    raise NotFound(f"segment {view.segment!r} is no longer kept by {where}")


def finishing_node(view: ResultView) -> str | None:
    """The node that ran the stage before ``_end`` (a joining stage when the DAG joins): where a result's
    segment stays when it went to the cloud without it."""
    for stage in view.dag.values():
        if END in stage.next and stage.node is not None:
            return stage.node
    return None


def render_frame(segment: bytes, objects: list[dict[str, Any]], frame_index: int | None = None) -> bytes:
    """The segment's first frame as JPEG with the boxes of that frame (``frame_index``, its source index;
    unknown: the first object's frame)."""
    with tempfile.NamedTemporaryFile(suffix=".mp4") as tmp:
        Path(tmp.name).write_bytes(segment)
        cap = cv2.VideoCapture(tmp.name)
        ok, image = cap.read()
        cap.release()
    if not ok or image is None:
        raise DecodeError("the segment holds no decodable frame")
    first = frame_index if frame_index is not None else next((o.get("frame_index") for o in objects), None)
    for obj in objects:
        if obj.get("frame_index") != first:
            continue
        x1, y1, x2, y2 = (int(v) for v in obj.get("box", (0, 0, 0, 0)))
        cv2.rectangle(image, (x1, y1), (x2, y2), (0, 200, 0), 2)
        label = str(obj.get("text") or obj.get("label") or "")
        if label:
            cv2.putText(image, label, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 200, 0), 2)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise DecodeError("cannot encode the frame")
    return bytes(np.asarray(encoded).tobytes())


def _check_source(plane: ControlPlane, source_id: str) -> None:
    known = [s.source_id for s in plane.installer.state().sources]
    if source_id not in known:
        raise NotFound(f"source {source_id!r} is not installed; installed: {known}", detail={"source_id": source_id})
