"""Kubernetes manifests from workloads: `native` (Deployment + NodePort Service per workload) or `sedna`
(one JointMultiEdgeService per workload) plus the topology ConfigMap every component reads.

Every object carries the labels removal selects by; pods are pinned to their node by ``nodeName`` and
report ready through ``/health``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from common.topology import Endpoint, LinkModel, NodeSpec, TopologyModel
from common.workload import Workload

PART_OF = "app.kubernetes.io/part-of"
WORKLOAD_LABEL = "dayu.io/workload"
COMPONENT_LABEL = "dayu.io/component"
NODE_LABEL = "dayu.io/node"
SERVICE_LABEL = "dayu.io/service"
SELECTOR = f"{PART_OF}=dayu"
TOPOLOGY_CONFIGMAP = "dayu-topology"
TOPOLOGY_MOUNT = "/etc/dayu"
CONTAINER_PORT = 8000


def labels(w: Workload) -> dict[str, str]:
    out = {PART_OF: "dayu", WORKLOAD_LABEL: w.name, COMPONENT_LABEL: w.component, NODE_LABEL: w.node}
    if w.service:
        out[SERVICE_LABEL] = w.service
    return out


def _env(w: Workload) -> list[dict[str, Any]]:
    env = {
        **w.env,
        "DAYU_HOST": "0.0.0.0",
        "DAYU_PORT": str(w.port or CONTAINER_PORT),
        "DAYU_NODE": w.node,
        "DAYU_TOPOLOGY": f"{TOPOLOGY_MOUNT}/topology.json",
        "DAYU_CONFIG": json.dumps(w.config, separators=(",", ":")),
        "DAYU_WORK_DIR": "/var/lib/dayu/work",
    }
    if w.service:
        env["DAYU_SERVICE"] = w.service
    if w.source_id:
        env["DAYU_SOURCE_ID"] = w.source_id
    return [{"name": k, "value": v} for k, v in sorted(env.items())]


def pod_template(w: Workload) -> dict[str, Any]:
    port = w.port or CONTAINER_PORT
    container: dict[str, Any] = {
        "name": w.component,
        "image": w.image or f"dayu/{w.component}:latest",
        "imagePullPolicy": "IfNotPresent",
        "env": _env(w),
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/health", "port": port}, "periodSeconds": 3, "failureThreshold": 3},
        "livenessProbe": {"httpGet": {"path": "/health", "port": port}, "periodSeconds": 10, "failureThreshold": 6},
        "volumeMounts": [
            {"name": "topology", "mountPath": TOPOLOGY_MOUNT, "readOnly": True},
            {"name": "work", "mountPath": "/var/lib/dayu/work"},
        ]
        + [
            {"name": f"mount-{i}", "mountPath": m.container_path, "readOnly": m.read_only}
            for i, m in enumerate(w.mounts)
        ],
    }
    if w.command:
        container["command"] = list(w.command)
    volumes: list[dict[str, Any]] = [
        {"name": "topology", "configMap": {"name": TOPOLOGY_CONFIGMAP}},
        {"name": "work", "hostPath": {"path": "/var/lib/dayu/work", "type": "DirectoryOrCreate"}},
    ]
    volumes += [{"name": f"mount-{i}", "hostPath": {"path": m.host_path}} for i, m in enumerate(w.mounts)]
    return {
        "metadata": {"labels": labels(w)},
        "spec": {"nodeName": w.node, "containers": [container], "volumes": volumes, "restartPolicy": "Always"},
    }


def render_native(w: Workload, namespace: str) -> list[dict[str, Any]]:
    meta = {"name": w.name, "namespace": namespace, "labels": labels(w)}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {WORKLOAD_LABEL: w.name}},
            "strategy": {"type": "Recreate"},
            "template": pod_template(w),
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": "NodePort",
            "selector": {WORKLOAD_LABEL: w.name},
            "ports": [{"name": "http", "port": w.port or CONTAINER_PORT, "targetPort": w.port or CONTAINER_PORT}],
        },
    }
    return [deployment, service]


def render_sedna(w: Workload, namespace: str, role: str) -> list[dict[str, Any]]:
    port = w.port or CONTAINER_PORT
    worker = {"logLevel": {"level": "info"}, "template": pod_template(w)}
    spec: dict[str, Any] = {"serviceConfig": {"pos": role, "port": port, "targetPort": port}}
    if role == "cloud":
        spec["cloudWorker"] = worker
    else:
        spec["edgeWorker"] = [worker]
    return [
        {
            "apiVersion": "sedna.io/v1alpha1",
            "kind": "JointMultiEdgeService",
            "metadata": {"name": w.name, "namespace": namespace, "labels": labels(w)},
            "spec": spec,
        }
    ]


def topology_for(
    workloads: Sequence[Workload], nodes: dict[str, NodeSpec], links: Sequence[LinkModel], namespace: str
) -> TopologyModel:
    """Where every component is reached inside the cluster: its Service's DNS name."""
    specs = {name: NodeSpec(role=n.role, arch=n.arch, labels=n.labels) for name, n in nodes.items()}
    for w in workloads:
        endpoint = Endpoint(host=f"{w.name}.{namespace}.svc", port=w.port or CONTAINER_PORT)
        target = specs[w.node].processors if w.component == "processor" else specs[w.node].components
        target[w.topology_key()] = endpoint
    return TopologyModel(nodes=specs, links=list(links))


def topology_configmap(model: TopologyModel, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": TOPOLOGY_CONFIGMAP, "namespace": namespace, "labels": {PART_OF: "dayu"}},
        "data": {"topology.json": model.model_dump_json(indent=2)},
    }


def render(
    workloads: Sequence[Workload], nodes: dict[str, NodeSpec], mode: str, namespace: str
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for w in workloads:
        if mode == "sedna":
            out += render_sedna(w, namespace, nodes[w.node].role)
        else:
            out += render_native(w, namespace)
    return out
