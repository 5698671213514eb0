"""Install (two stages, in the background), uninstall, install state, instances, redeployment."""

from __future__ import annotations

from fastapi import APIRouter

from backend.contracts.install import (
    InstallRequest,
    InstallState,
    InstallStatus,
    Instance,
    InstanceList,
    LinkEmulation,
    RedeployResult,
)
from backend.plane import Plane

router = APIRouter(prefix="/api", tags=["install"])


@router.post("/install", status_code=202, summary="Start installing; poll GET /api/install for progress")
async def install(body: InstallRequest, plane: Plane) -> InstallState:
    return plane.installer.start_install(body)


@router.get("/install", summary="Install state: phase, step, progress, placement, deployment, error")
async def install_state(plane: Plane) -> InstallStatus:
    state = plane.installer.state()
    links = plane.deployer.link_status()
    return InstallStatus(**dict(state), links=None if links is None else LinkEmulation.model_validate(links))


@router.post("/uninstall", summary="Close the sources and remove every deployed workload")
async def uninstall(plane: Plane) -> InstallState:
    return await plane.installer.uninstall()


@router.post("/redeploy", summary="Ask the scheduler for a new deployment now and apply the difference")
async def redeploy(plane: Plane) -> RedeployResult:
    return await plane.installer.redeploy_once()


@router.get("/instances", summary="Deployed instances per service: node, age, cpu, memory, readiness")
async def instances(plane: Plane) -> InstanceList:
    out = [Instance.of(status) for status in await plane.deployer.status()]
    return InstanceList(sorted(out, key=lambda i: (i.component, i.name)))
