"""Catalogs: policies, services, nodes, visualization views, link traces."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from backend.contracts.catalog import (
    NodeInfo,
    NodeList,
    PolicyInfo,
    PolicyList,
    ServiceList,
    TraceInfo,
    TraceList,
    TraceProblem,
    ViewCatalog,
)
from backend.contracts.views import SystemSnapshot
from backend.plane import Plane
from backend.policy_availability import agent_alias, skipped_agents
from common.errors import ConfigError, DayuError
from common.trace import known_traces, load_trace

router = APIRouter(prefix="/api", tags=["catalog"])


@router.get(
    "/policies",
    summary="Scheduling policies of the template; those whose agent cannot load here are marked unavailable, with why",
)
async def policies(plane: Plane) -> PolicyList:
    default = plane.template.base.defaults.policy
    skipped: dict[str, str] = {}
    if plane.deployer.kind == "local":  # a cluster's scheduler image decides what it can load
        skipped = await asyncio.to_thread(skipped_agents)  # the first call imports every agent plugin
    out = []
    for p in plane.template.policies.values():
        reason = skipped.get(agent_alias(plane.template, p.id))
        out.append(
            PolicyInfo(**p.model_dump(), default=p.id == default, available=reason is None, unavailable_reason=reason)
        )
    return PolicyList(out)


@router.get("/services", summary="Services a DAG can use")
async def services(plane: Plane) -> ServiceList:
    return ServiceList(list(plane.template.services.values()))


@router.get("/nodes", summary="Nodes of the runtime: role, arch, labels and, when installed, live use")
async def nodes(plane: Plane) -> NodeList:
    live: SystemSnapshot | None = None
    if plane.installer.deployed():
        try:
            live = await plane.sample_system()
        except DayuError:
            live = None
    local = plane.deployer.kind == "local"
    configured = {name: node.cpu_quota for name, node in plane.template.base.local.nodes.items()} if local else {}
    # Whether the quotas hold is known once installed; the runtime records it (with the reason, where not).
    cpu = (plane.deployer.cpu_status() or {}) if live is not None or plane.installer.deployed() else {}
    enforced = cpu.get("enforced") if "nodes" in cpu else None
    return NodeList([
        NodeInfo(
            name=name, role=spec.role, arch=spec.arch, labels=spec.labels,
            cpu=live.cpu.get(name) if live else None, memory=live.memory.get(name) if live else None,
            cpu_quota=configured.get(name),
            cpu_quota_enforced=enforced if configured.get(name) is not None else None,
            cpu_quota_note=cpu.get("reason") if configured.get(name) is not None else None,
        )
        for name, spec in sorted(plane.deployer.nodes().items())
    ])  # fmt: skip


@router.get("/visualizations/catalog", summary="Default result and system views")
async def view_catalog(plane: Plane) -> ViewCatalog:
    return ViewCatalog(result=plane.template.result_views, system=plane.template.system_views)


@router.get("/traces", summary="Link bandwidth traces of the installed template (traces/*.csv) an install may name")
async def traces(plane: Plane) -> TraceList:
    folder = plane.template.root / "traces"
    found: list[TraceInfo] = []
    invalid: list[TraceProblem] = []
    for name in known_traces(folder):
        try:
            trace = load_trace(name, search=folder)
        except ConfigError as exc:
            invalid.append(TraceProblem(name=name, error=exc.message))
            continue
        rates = [p.mbit_per_s for p in trace.points]
        found.append(
            TraceInfo(
                name=name, duration_s=trace.period_s, min_mbps=min(rates), max_mbps=max(rates),
                rows=len(trace.points), delay=any(p.delay_ms is not None for p in trace.points),
            )
        )  # fmt: skip
    supported = plane.deployer.follows_traces
    return TraceList(supported=supported, custom_files=supported, traces=found, invalid=invalid)
