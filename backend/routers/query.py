"""Opening and closing the datasource (the installed sources start or stop playing), and the sources."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from backend.plane import ControlPlane, Plane
from common.errors import Conflict, InvalidInput

router = APIRouter(prefix="/api", tags=["query"])
log = logging.getLogger(__name__)


class OpenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[str] = Field(default_factory=list, description="Source ids; empty: every installed source.")


def installed_sources(plane: ControlPlane) -> list[str]:
    return [s["source_id"] for s in plane.installer.state().get("sources", [])]


async def set_open(plane: ControlPlane, opened: bool, sources: list[str]) -> dict[str, Any]:
    """Open: the datasource serves the sources and their generators start reading. Close: the reverse."""
    await plane.installer.set_open(opened, sources)
    query = {"open": opened, "sources": sources, "since": time.time()}
    plane.store.set_state("query", query)
    return query


@router.post("/query/open", summary="Open the datasource: the installed sources start playing")
async def open_query(plane: Plane, body: OpenBody | None = None) -> dict[str, Any]:
    if not plane.installer.installed():
        raise Conflict("nothing is installed: install first")
    known = installed_sources(plane)
    wanted = (body.sources if body else []) or known
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise InvalidInput(f"sources not installed: {unknown}; installed: {known}", detail={"unknown": unknown})
    return await set_open(plane, True, wanted)


@router.post("/query/close", summary="Close the datasource")
async def close_query(plane: Plane) -> dict[str, Any]:
    query = plane.store.get_state("query") or {}
    if not query.get("open"):
        return {"open": False, "sources": []}
    return await set_open(plane, False, list(query.get("sources", [])))


@router.get("/query", summary="Whether the datasource is open, and which sources")
async def query_state(plane: Plane) -> dict[str, Any]:
    return plane.store.get_state("query") or {"open": False, "sources": []}


@router.get("/sources", summary="Installed sources with their DAG, node and open state")
async def sources(plane: Plane) -> list[dict[str, Any]]:
    state = plane.installer.state()
    query = plane.store.get_state("query") or {}
    placement = state.get("placement", {})
    opened = set(query.get("sources", [])) if query.get("open") else set()
    return [
        {**s, "node": placement.get(s["source_id"]), "open": s["source_id"] in opened} for s in state.get("sources", [])
    ]
