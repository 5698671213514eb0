"""Install (two stages, in the background), uninstall, install state (read, or followed as events),
instances, redeployment."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from backend.contracts.install import (
    InstallRequest,
    InstallState,
    InstallStatus,
    Instance,
    InstanceList,
    LinkEmulation,
    RedeployResult,
)
from backend.plane import ControlPlane, Plane
from common.contracts.openapi import event_stream, raises
from common.errors import Conflict, NotFound, TransportError, Unavailable, UpstreamTimeout

router = APIRouter(prefix="/api", tags=["install"])


@router.post(
    "/install",
    status_code=202,
    summary="Start installing; poll GET /api/install for progress",
    responses=raises(NotFound, Conflict),
)
async def install(body: InstallRequest, plane: Plane) -> InstallState:
    return plane.installer.start_install(body)


MAX_STREAM_S = 3600.0
"""An event stream ends after this long; the client connects again."""


@router.get(
    "/install",
    summary="Install state: phase (degraded while a component is down, kept current by the backend), step, "
    "progress, error",
)
async def install_state(plane: Plane) -> InstallStatus:
    return status(plane)


def status(plane: ControlPlane) -> InstallStatus:
    state = plane.installer.state()
    links = plane.deployer.link_status()
    return InstallStatus(**dict(state), links=None if links is None else LinkEmulation.model_validate(links))


@router.get(
    "/install/events",
    summary="Server-Sent Events: an `install` event (the install state, as GET /api/install) now and at every "
    "change, e.g. degraded when a component goes down and installed when it is back",
    response_class=StreamingResponse,
    responses=event_stream("An event stream: `install` events.", InstallStatus),
)
async def install_events(
    request: Request,
    plane: Plane,
    keepalive: float = Query(15.0, ge=1, le=60, description="Seconds between keep-alive comments."),
) -> StreamingResponse:
    states = plane.installer.states

    async def events() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + MAX_STREAM_S
        seen = states.version
        yield f"id: {seen}\nevent: install\ndata: {status(plane).model_dump_json()}\n\n".encode()
        while loop.time() < deadline and not await request.is_disconnected():
            version = await states.wait_change(seen, keepalive)
            if version == seen:
                yield b": keep-alive\n\n"
                continue
            seen = version
            yield f"id: {seen}\nevent: install\ndata: {status(plane).model_dump_json()}\n\n".encode()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


@router.post(
    "/uninstall",
    summary="Close the sources and remove every deployed workload",
    responses=raises(Conflict, Unavailable),
)
async def uninstall(plane: Plane) -> InstallState:
    return await plane.installer.uninstall()


@router.post(
    "/redeploy",
    summary="Ask the scheduler for a new deployment now and apply the difference",
    responses=raises(Conflict, Unavailable, TransportError, UpstreamTimeout),
)
async def redeploy(plane: Plane) -> RedeployResult:
    return await plane.installer.redeploy_once()


@router.get("/instances", summary="Deployed instances per service: node, age, cpu, memory, readiness")
async def instances(plane: Plane) -> InstanceList:
    out = [Instance.of(status) for status in await plane.deployer.status()]
    return InstanceList(sorted(out, key=lambda i: (i.component, i.name)))
