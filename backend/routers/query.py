"""Opening and closing the datasource (the installed sources start or stop playing), and the sources."""

from __future__ import annotations

from fastapi import APIRouter

from backend.contracts.query import OpenRequest, QueryState, SourceList, SourceStatus
from backend.plane import Plane
from common.contracts.openapi import raises
from common.errors import Conflict, TransportError, Unavailable, UpstreamTimeout

router = APIRouter(prefix="/api", tags=["query"])


@router.post(
    "/query/open",
    summary="Open the datasource: the installed sources start playing",
    responses=raises(Conflict, Unavailable, TransportError, UpstreamTimeout),
)
async def open_query(plane: Plane, body: OpenRequest | None = None) -> QueryState:
    return await plane.installer.open_sources(body.sources if body else [])


@router.post(
    "/query/close",
    summary="Close the datasource",
    responses=raises(Conflict, Unavailable, TransportError, UpstreamTimeout),
)
async def close_query(plane: Plane) -> QueryState:
    return await plane.installer.close_sources()


@router.get("/query", summary="Whether the datasource is open, and which sources")
async def query_state(plane: Plane) -> QueryState:
    return plane.installer.query()


@router.get("/sources", summary="Installed sources with their DAG, node and open state")
async def sources(plane: Plane) -> SourceList:
    state = plane.installer.state()
    query = plane.installer.query()
    opened = set(query.sources) if query.open else set()
    return SourceList([
        SourceStatus(
            source_id=s.source_id, dag=s.dag, nodes=s.nodes, node=state.placement.get(s.source_id),
            open=s.source_id in opened,
        )
        for s in state.sources
    ])  # fmt: skip
