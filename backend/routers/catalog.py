"""Catalogs: policies, services, nodes, visualization views."""

from __future__ import annotations

from fastapi import APIRouter

from backend.contracts.catalog import NodeInfo, PolicyInfo, ViewCatalog
from backend.contracts.views import SystemSnapshot
from backend.plane import Plane
from backend.templates import ServiceSpec
from common.errors import DayuError

router = APIRouter(prefix="/api", tags=["catalog"])


@router.get("/policies", summary="Scheduling policies of the template")
async def policies(plane: Plane) -> list[PolicyInfo]:
    default = plane.template.base.defaults.policy
    return [PolicyInfo(**p.model_dump(), default=p.id == default) for p in plane.template.policies.values()]


@router.get("/services", summary="Services a DAG can use")
async def services(plane: Plane) -> list[ServiceSpec]:
    return list(plane.template.services.values())


@router.get("/nodes", summary="Nodes of the runtime: role, arch, labels and, when installed, live use")
async def nodes(plane: Plane) -> list[NodeInfo]:
    live: SystemSnapshot | None = None
    if plane.installer.deployed():
        try:
            live = await plane.sample_system()
        except DayuError:
            live = None
    return [
        NodeInfo(
            name=name, role=spec.role, arch=spec.arch, labels=spec.labels,
            cpu=live.cpu.get(name) if live else None, memory=live.memory.get(name) if live else None,
        )
        for name, spec in sorted(plane.deployer.nodes().items())
    ]  # fmt: skip


@router.get("/visualizations/catalog", summary="Default result and system views")
async def view_catalog(plane: Plane) -> ViewCatalog:
    return ViewCatalog(result=plane.template.result_views, system=plane.template.system_views)
