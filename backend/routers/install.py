"""Install (two stages, in the background), uninstall, install state, instances, redeployment."""

from __future__ import annotations

from fastapi import APIRouter

from backend.contracts.install import (
    InstallPhase,
    InstallRequest,
    InstallState,
    InstallStatus,
    Instance,
    InstanceList,
    LinkEmulation,
    RedeployResult,
)
from backend.plane import ControlPlane, Plane

router = APIRouter(prefix="/api", tags=["install"])


@router.post("/install", status_code=202, summary="Start installing; poll GET /api/install for progress")
async def install(body: InstallRequest, plane: Plane) -> InstallState:
    return plane.installer.start_install(body)


@router.get("/install", summary="Install state: phase (degraded while a component is down), step, progress, error")
async def install_state(plane: Plane) -> InstallStatus:
    await follow_health(plane)
    state = plane.installer.state()
    links = plane.deployer.link_status()
    return InstallStatus(**dict(state), links=None if links is None else LinkEmulation.model_validate(links))


async def follow_health(plane: ControlPlane) -> None:
    """Degraded while any deployed component is down (the runtime is restarting it), installed again once
    every one is ready."""
    phase = plane.installer.state().phase
    if phase not in (InstallPhase.INSTALLED, InstallPhase.DEGRADED):
        return
    statuses = await plane.deployer.status()
    down = sorted(s.name for s in statuses if not s.ready)
    if down:
        plane.installer.mark_degraded("down: " + ", ".join(down))
    elif phase == InstallPhase.DEGRADED:
        plane.installer.mark_recovered()


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
