"""In-cluster discovery: nodes from their labels, components from the install's objects.

Native mode: each workload's Service (labelled with the workload). Sedna mode: each JointMultiEdgeService
of the install (labelled with the workload) and the Service the controller made for it, found by the
controller's own label (``jointmultiedge.sedna.io/name``), since that Service carries no other.
Runtime-service mode: each workload's serving RuntimeService (newest Ready revision, else newest), reached
at the DNS name the controller reports in ``status.endpoint.dnsName``. With host networking a component is
reached at its node's address and its own port.
"""

from __future__ import annotations

from typing import Any

from backend.deploy import kube_revisions, sedna
from backend.deploy import runtime_service as rts
from backend.deploy.kube_api import KubeApi
from backend.deploy.kube_render import (
    COMPONENT_LABEL,
    NODE_LABEL,
    PORT_ANNOTATION,
    SERVICE_LABEL,
    SOURCE_LABEL,
    Network,
    runtime_selector,
)
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


def node_addresses(raw_nodes: list[dict[str, Any]]) -> dict[str, str]:
    """Each node's InternalIP (else its first address, else its name)."""
    out = {}
    for raw in raw_nodes:
        addresses = (raw.get("status") or {}).get("addresses") or []
        internal = [a["address"] for a in addresses if a.get("type") == "InternalIP"]
        out[raw["metadata"]["name"]] = (internal or [a["address"] for a in addresses] or [raw["metadata"]["name"]])[0]
    return out


def _place(nodes: dict[str, NodeSpec], obj_labels: dict[str, str], name: str, endpoint: Endpoint) -> None:
    node, component = obj_labels.get(NODE_LABEL), obj_labels.get(COMPONENT_LABEL)
    if node not in nodes or not component:
        return
    if component == "processor":
        nodes[node].processors[obj_labels.get(SERVICE_LABEL, name)] = endpoint
    elif component == "generator":
        nodes[node].components[f"generator/{obj_labels.get(SOURCE_LABEL, name)}"] = endpoint
    else:
        nodes[node].components[component] = endpoint


class KubernetesTopology(Topology):
    """The common.topology interface filled from the cluster (read on each call, so it follows changes)."""

    def __init__(self, api: KubeApi, namespace: str, mode: str = "native", network: Network = "service") -> None:
        self.api = api
        self.namespace = namespace
        self.mode = mode
        self.network = network

    def nodes(self) -> dict[str, NodeSpec]:
        raw = self.api.nodes()
        nodes = node_specs(raw)
        addresses = node_addresses(raw) if self.network == "host" else {}
        if self.mode == "sedna":
            self._sedna(nodes, addresses)
        elif self.mode == "runtime-service":
            self._runtime_service(nodes, addresses)
        else:
            self._native(nodes, addresses)
        return nodes

    def _native(self, nodes: dict[str, NodeSpec], addresses: dict[str, str]) -> None:
        for svc in self.api.services(self.namespace, runtime_selector(self.namespace)):
            meta = svc["metadata"]
            svc_labels = meta.get("labels") or {}
            ports = svc["spec"].get("ports") or []
            if not ports:
                continue
            host = addresses.get(svc_labels.get(NODE_LABEL, ""), f"{meta['name']}.{self.namespace}.svc")
            _place(nodes, svc_labels, meta["name"], Endpoint(host=host, port=int(ports[0]["port"])))

    def _sedna(self, nodes: dict[str, NodeSpec], addresses: dict[str, str]) -> None:
        made = {
            (s["metadata"].get("labels") or {}).get(sedna.NAME_LABEL): s
            for s in self.api.services(self.namespace, sedna.NAME_LABEL)
        }
        resources = self.api.list_objects(
            sedna.API_VERSION, sedna.KIND, self.namespace, runtime_selector(self.namespace)
        )
        for obj in resources:
            meta = obj["metadata"]
            obj_labels = meta.get("labels") or {}
            node = obj_labels.get(NODE_LABEL, "")
            if node not in nodes:
                continue
            port = int((meta.get("annotations") or {}).get(PORT_ANNOTATION) or obj["spec"]["serviceConfig"]["port"])
            if node in addresses:
                endpoint = Endpoint(host=addresses[node], port=port)
            else:
                svc = made.get(meta["name"])
                name = svc["metadata"]["name"] if svc else sedna.service_name(meta["name"], nodes[node].role)
                endpoint = Endpoint(host=f"{name}.{self.namespace}.svc", port=port)
            _place(nodes, obj_labels, meta["name"], endpoint)

    def _runtime_service(self, nodes: dict[str, NodeSpec], addresses: dict[str, str]) -> None:
        by_workload = kube_revisions.resources(self.api, self.namespace, runtime_selector(self.namespace))
        for objs in by_workload.values():
            obj = kube_revisions.current(objs)
            meta = obj["metadata"]
            obj_labels = meta.get("labels") or {}
            node = obj_labels.get(NODE_LABEL, "")
            if node not in nodes:
                continue
            port = int(
                ((obj["spec"].get("endpoint") or {}).get("port")) or (meta.get("annotations") or {})[PORT_ANNOTATION]
            )
            host = addresses.get(node) or rts.endpoint_dns(obj) or rts.dns_name(meta["name"], self.namespace)
            _place(nodes, obj_labels, meta["name"], Endpoint(host=host, port=port))

    def links(self) -> list[LinkModel]:
        return []  # a real network: links are measured by the monitors, not declared
