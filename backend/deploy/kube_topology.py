"""In-cluster discovery: nodes from their labels, components from their Services' labels."""

from __future__ import annotations

from typing import Any

from backend.deploy.kube_api import KubeApi
from backend.deploy.kube_render import COMPONENT_LABEL, NODE_LABEL, SELECTOR, SERVICE_LABEL
from common.topology import Endpoint, LinkModel, NodeSpec, Topology

EDGE_ROLE = "node-role.kubernetes.io/edge"
CONTROL_PLANE_ROLES = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
ARCH_LABEL = "kubernetes.io/arch"


def node_specs(raw_nodes: list[dict[str, Any]]) -> dict[str, NodeSpec]:
    """Edge-labelled nodes are edges; the (first) control-plane node is the cloud."""
    nodes: dict[str, NodeSpec] = {}
    cloud_seen = False
    for raw in sorted(raw_nodes, key=lambda n: n["metadata"]["name"]):
        meta = raw["metadata"]
        node_labels = dict(meta.get("labels") or {})
        if EDGE_ROLE in node_labels:
            role = "edge"
        elif any(r in node_labels for r in CONTROL_PLANE_ROLES) and not cloud_seen:
            role, cloud_seen = "cloud", True
        else:
            continue
        nodes[meta["name"]] = NodeSpec(role=role, arch=node_labels.get(ARCH_LABEL, "amd64"), labels=node_labels)
    return nodes


class KubernetesTopology(Topology):
    """The common.topology interface filled from the cluster (read on each call, so it follows changes)."""

    def __init__(self, api: KubeApi, namespace: str) -> None:
        self.api = api
        self.namespace = namespace

    def nodes(self) -> dict[str, NodeSpec]:
        nodes = node_specs(self.api.nodes())
        for svc in self.api.services(self.namespace, SELECTOR):
            meta = svc["metadata"]
            svc_labels = meta.get("labels") or {}
            node, component = svc_labels.get(NODE_LABEL), svc_labels.get(COMPONENT_LABEL)
            ports = svc["spec"].get("ports") or []
            if node not in nodes or not component or not ports:
                continue
            endpoint = Endpoint(host=f"{meta['name']}.{self.namespace}.svc", port=int(ports[0]["port"]))
            if component == "processor":
                nodes[node].processors[svc_labels.get(SERVICE_LABEL, meta["name"])] = endpoint
            elif component == "generator":
                nodes[node].components[f"generator/{meta['name'].removeprefix('generator-')}"] = endpoint
            else:
                nodes[node].components[component] = endpoint
        return nodes

    def links(self) -> list[LinkModel]:
        return []  # a real network: links are measured by the monitors, not declared
