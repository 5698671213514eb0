"""Every manifest of an install, rendered without a cluster (``dayuctl render``): the CRD (sedna and
runtime-service modes, revision 1 of every RuntimeService), the
control plane ``dayu.sh start`` applies, and the workloads of the template's default install (default
policy, default DAG on every source of the default datasource), as the backend would deploy them.

Without a running scheduler, each source goes to its first candidate edge node and every service runs on
the cloud node (the fallback the backend also uses); the scheduler may choose other nodes at install time.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from backend.datasource_config import parse_datasource
from backend.deploy import cluster, gpus, sedna
from backend.deploy import runtime_service as rts
from backend.deploy.kube_render import (
    Network,
    assign_host_ports,
    render,
    topology_configmap,
    topology_for,
)
from backend.deploy.kube_topology import node_addresses, node_specs
from backend.deploy.kubernetes import check_namespace
from backend.planner import Planner, ResolvedSource, complete_deployment, resolve_dag
from backend.templates import Template
from common.errors import ConfigError
from common.topology import NodeSpec


def nodes_from(data: Any, template: Template) -> tuple[dict[str, NodeSpec], dict[str, str]]:
    """Nodes from ``kubectl get nodes -o yaml`` (a List of Nodes), or from a mapping ``{name: {role, arch,
    labels}}``; None: the template's local nodes."""
    if data is None:
        return {n: NodeSpec(role=s.role) for n, s in template.base.local.nodes.items()}, {}
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        return node_specs(data["items"]), node_addresses(data["items"])
    if isinstance(data, dict):
        try:
            return {str(k): NodeSpec.model_validate(v) for k, v in data.items()}, {}
        except ValueError as exc:
            raise ConfigError(f"nodes: {exc}") from None
    raise ConfigError("nodes: expected `kubectl get nodes -o yaml` output or a mapping {name: {role, ...}}")


def default_workloads(template: Template, nodes: Mapping[str, NodeSpec]) -> list[Any]:
    clouds = [n for n, s in nodes.items() if s.role == "cloud"]
    edges = sorted(n for n, s in nodes.items() if s.role == "edge")
    if len(clouds) != 1 or not edges:
        raise ConfigError(f"nodes: need exactly one cloud node and at least one edge node, got {dict(nodes)}")
    base = template.base
    path = template.path(base.defaults.datasource)
    datasource = parse_datasource(path.read_text(encoding="utf-8"), path.name)
    spec = base.dags[base.defaults.dag].model_dump(mode="json")
    sources = []
    for entry in datasource.sources:
        attach = [n for n in (entry.node_candidates or edges) if n in edges]
        if not attach:
            raise ConfigError(
                f"source {entry.id!r}: none of its node candidates {entry.node_candidates} is an edge node here; "
                f"edge nodes found: {edges}"
            )
        sources.append(
            ResolvedSource(
                entry=entry,
                dag_name=base.defaults.dag,
                dag=resolve_dag(template, spec),
                spec=spec,
                nodes=sorted(nodes),
                attach=attach,
            )
        )
    planner = Planner(template, nodes, None, container_ports=True)
    policy = template.policies[base.defaults.policy]
    placement = {s.entry.id: s.attach[0] for s in sources}
    deployment = complete_deployment({}, sources, clouds[0])
    ds_url = f"http://datasource.{base.namespace}.svc:{base.datasource.port}"
    urls = {
        s.entry.id: s.entry.url or (f"{ds_url}/streams/{s.entry.id}" if s.entry.mode == "http" else "") for s in sources
    }
    return planner.stage1(policy) + planner.stage2(policy, sources, placement, deployment, urls)


def render_install(
    template: Template,
    mode: str,
    *,
    nodes_data: Any = None,
    network: Network | None = None,
    token: str | None = None,
    report: list[str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Manifests by file name, in the order they are applied; ``report`` gets what a reader should know (the
    GPU processors per node). A node asked for more GPUs than it offers is refused (``gpus.check``)."""
    net: Network = network or template.base.kubernetes.network
    nodes, addresses = nodes_from(nodes_data, template)
    ns = check_namespace(template.base.namespace)
    workloads = default_workloads(template, nodes)
    if net == "host":
        workloads = assign_host_ports(workloads, {})
    cloud = next(n for n, s in nodes.items() if s.role == "cloud")
    gpu = template.base.kubernetes.gpu
    raw = nodes_data["items"] if isinstance(nodes_data, dict) and isinstance(nodes_data.get("items"), list) else []
    offered = gpus.node_gpus(raw, gpu)
    gpus.check(workloads, offered, gpu)
    if report is not None:
        report += gpus.summary(workloads, offered, gpu)
    files: dict[str, list[dict[str, Any]]] = {}
    if mode == "sedna":
        files["00-crd.yaml"] = [sedna.crd()]
    elif mode == "runtime-service":
        files["00-crd.yaml"] = [rts.crd()]
    if gpu.sharing == "time-slicing" and gpus.placed(workloads):
        files["05-gpu-sharing.yaml"] = [gpus.device_plugin_config(gpu, gpu.device_plugin_namespace)]
    files["10-control-plane.yaml"] = cluster.control_plane_manifests(
        template, cloud, token or secrets.token_urlsafe(24)
    )
    model = topology_for(workloads, nodes, [], ns, mode=mode, network=net, addresses=addresses)
    files["20-runtime.yaml"] = [
        topology_configmap(model, ns, ns),
        *render(workloads, nodes, mode, ns, network=net, resources=template.base.kubernetes.resources),
    ]
    return files
