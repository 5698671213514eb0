"""Catalogs: policies, services, nodes, visualization views."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from backend.plane import Plane
from common.errors import DayuError

router = APIRouter(prefix="/api", tags=["catalog"])


@router.get("/policies", summary="Scheduling policies of the template")
async def policies(plane: Plane) -> list[dict[str, Any]]:
    default = plane.template.base.defaults.policy
    return [{**p.model_dump(), "default": p.id == default} for p in plane.template.policies.values()]


@router.get("/services", summary="Services a DAG can use")
async def services(plane: Plane) -> list[dict[str, Any]]:
    return [s.model_dump() for s in plane.template.services.values()]


@router.get("/nodes", summary="Nodes of the runtime: role, arch, labels and, when installed, live use")
async def nodes(plane: Plane) -> list[dict[str, Any]]:
    live: dict[str, Any] = {}
    if plane.installer.installed():
        try:
            live = await plane.sample_system()
        except DayuError:
            live = {}
    out = []
    for name, spec in sorted(plane.deployer.nodes().items()):
        out.append(
            {
                "name": name,
                "role": spec.role,
                "arch": spec.arch,
                "labels": spec.labels,
                "cpu": live.get("cpu", {}).get(name),
                "memory": live.get("memory", {}).get(name),
            }
        )
    return out


@router.get("/visualizations/catalog", summary="Default result and system views")
async def view_catalog(plane: Plane) -> dict[str, Any]:
    return {
        "result": [v.model_dump() for v in plane.template.result_views],
        "system": [v.model_dump() for v in plane.template.system_views],
    }
