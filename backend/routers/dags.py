"""DAGs: create (validated against the service catalog), list, read, update, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from backend.contracts.catalog import DagInfo, DagList, DagNode, DagRequest, Deleted
from backend.plane import ControlPlane, Plane
from backend.planner import resolve_dag
from common.dag import DagSpec
from common.errors import Conflict

router = APIRouter(prefix="/api/dags", tags=["dags"])


def _in_use(plane: ControlPlane, name: str) -> bool:
    state = plane.installer.state()
    return state.phase in ("installing", "installed", "degraded") and any(s.dag == name for s in state.sources)


def _describe(plane: ControlPlane, name: str, spec: dict[str, Any]) -> DagInfo:
    dag = resolve_dag(plane.template, spec)
    nodes = {n: DagNode(service=s.service, next=s.next) for n, s in dag.items()}
    return DagInfo(name=name, spec=DagSpec.model_validate(spec), dag=nodes)


@router.get("", summary="Every DAG")
async def list_dags(plane: Plane) -> DagList:
    return DagList([_describe(plane, d["name"], d["spec"]) for d in plane.store.list_dags()])


@router.post("", status_code=201, summary="Create a DAG (known services, matching types, no cycle, connected)")
async def create_dag(body: DagRequest, plane: Plane) -> DagInfo:
    spec = body.stages.model_dump(mode="json")
    resolve_dag(plane.template, spec)
    plane.store.create_dag(body.name, spec)
    return _describe(plane, body.name, spec)


@router.get("/{name}", summary="One DAG")
async def get_dag(name: str, plane: Plane) -> DagInfo:
    return _describe(plane, name, plane.store.get_dag(name))


@router.put("/{name}", summary="Replace a DAG's stages (refused while installed)")
async def update_dag(name: str, body: DagSpec, plane: Plane) -> DagInfo:
    spec = body.model_dump(mode="json")
    resolve_dag(plane.template, spec)
    plane.store.get_dag(name)
    if _in_use(plane, name):
        raise Conflict(f"DAG {name!r} is installed; uninstall first", detail={"dag": name})
    plane.store.update_dag(name, spec)
    return _describe(plane, name, spec)


@router.delete("/{name}", summary="Delete a DAG (refused while installed)")
async def delete_dag(name: str, plane: Plane) -> Deleted:
    plane.store.get_dag(name)
    if _in_use(plane, name):
        raise Conflict(f"DAG {name!r} is installed; uninstall first", detail={"dag": name})
    plane.store.delete_dag(name)
    return Deleted(deleted=name)
