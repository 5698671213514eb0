"""Install (two stages, in the background), uninstall, install state, instances, redeployment."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from backend.plane import ControlPlane, Plane
from backend.planner import InstallRequest
from backend.routers.query import set_open

router = APIRouter(prefix="/api", tags=["install"])


@router.post("/install", status_code=202, summary="Start installing; poll GET /api/install for progress")
async def install(body: InstallRequest, plane: Plane) -> dict[str, Any]:
    return plane.installer.start_install(body)


@router.get("/install", summary="Install state: phase, step, progress, placement, deployment, error")
async def install_state(plane: Plane) -> dict[str, Any]:
    return {**plane.installer.state(), "links": plane.deployer.link_status()}


@router.post("/uninstall", summary="Remove every deployed workload (waits for a redeployment in progress)")
async def uninstall(plane: Plane) -> dict[str, Any]:
    await close_query(plane)
    return await plane.installer.uninstall()


@router.post("/redeploy", summary="Ask the scheduler for a new deployment now and apply the difference")
async def redeploy(plane: Plane) -> dict[str, Any]:
    return await plane.installer.redeploy_once()


@router.get("/instances", summary="Deployed instances per service: node, age, cpu, memory, readiness")
async def instances(plane: Plane) -> list[dict[str, Any]]:
    out = []
    for status in await plane.deployer.status():
        item = status.model_dump()
        age = status.age_s()
        item["age_s"] = None if age is None else round(age, 1)
        out.append(item)
    return sorted(out, key=lambda i: (i["component"], i["name"]))


async def close_query(plane: ControlPlane) -> None:
    query = plane.store.get_state("query") or {}
    if query.get("open"):
        await set_open(plane, False, list(query.get("sources", [])))
