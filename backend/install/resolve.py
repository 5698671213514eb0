"""Resolving an install request: policy, datasource config, and per source its DAG and nodes.

Runs synchronously before anything is deployed, so a bad request is refused (4xx) and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from backend.contracts.install import InstallRequest
from backend.datasource_config import DatasourceConfig
from backend.planner import ResolvedSource, resolve_dag
from backend.store import Store
from backend.templates import Template
from common.errors import InvalidInput, NotFound
from common.topology import NodeSpec


@dataclass(frozen=True)
class ResolvedInstall:
    policy: str
    datasource: DatasourceConfig
    sources: list[ResolvedSource]


def resolve(template: Template, store: Store, nodes: Mapping[str, NodeSpec], req: InstallRequest) -> ResolvedInstall:
    policy = req.policy or template.base.defaults.policy
    if policy not in template.policies:
        known = ", ".join(sorted(template.policies))
        raise InvalidInput(f"unknown policy {policy!r}; known: {known}", detail={"policy": policy})
    record = store.get_datasource(req.datasource)
    datasource = DatasourceConfig.model_validate(record["config"])
    listed = {s.source_id: s for s in req.sources}
    for sid in listed:
        datasource.source(sid)  # raises naming the unknown source
    if len(listed) != len(req.sources):
        raise InvalidInput("a source is listed twice in `sources`")
    edges = [n for n in nodes if nodes[n].role == "edge"]
    resolved: list[ResolvedSource] = []
    for entry in datasource.sources:
        choice = listed.get(entry.id)
        dag_name = choice.dag if choice else req.dag
        if dag_name is None:
            continue
        try:
            spec = store.get_dag(dag_name)
        except NotFound:
            raise InvalidInput(f"source {entry.id!r}: no DAG named {dag_name!r}", detail={"dag": dag_name}) from None
        dag = resolve_dag(template, spec)
        chosen = list(choice.nodes) if choice and choice.nodes else sorted(nodes)
        unknown = [n for n in chosen if n not in nodes]
        if unknown:
            raise InvalidInput(f"source {entry.id!r}: unknown nodes {unknown}; known: {sorted(nodes)}")
        attach = [n for n in (entry.node_candidates or edges) if n in nodes and nodes[n].role == "edge"]
        if not attach:
            raise InvalidInput(
                f"source {entry.id!r}: none of its node candidates {entry.node_candidates} is an edge node here; "
                f"edge nodes found: {sorted(edges)}",
                detail={"source": entry.id, "node_candidates": entry.node_candidates, "edge_nodes": sorted(edges)},
            )
        resolved.append(ResolvedSource(entry=entry, dag_name=dag_name, dag=dag, spec=spec, nodes=chosen, attach=attach))
    if not resolved:
        raise InvalidInput("nothing to install: give `dag` or at least one entry in `sources`")
    return ResolvedInstall(policy, datasource, resolved)
