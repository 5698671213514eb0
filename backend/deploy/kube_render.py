"""Kubernetes manifests from workloads: `native` (Deployment + NodePort Service per workload), `sedna` (one
JointMultiEdgeService per workload) or `runtime-service` (one RuntimeService per workload and revision), plus
the topology ConfigMap every component reads.

Every object carries the labels of its install (``dayu.io/install``, the namespace) and plane
(``dayu.io/plane: runtime``): removal selects by both, so it never touches the control plane (plane
``control``) nor another install. Pods are pinned to their node by ``nodeName``, report ready through
``/health``, read the token from the install's Secret, and prepare their node's work directory for the
component user before it starts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from backend.deploy import runtime_service, sedna
from backend.templates import ResourceAmounts, Resources
from common.topology import Endpoint, LinkModel, NodeSpec, TopologyModel
from common.workload import Workload

PART_OF = "app.kubernetes.io/part-of"
INSTALL_LABEL = "dayu.io/install"
PLANE_LABEL = "dayu.io/plane"
WORKLOAD_LABEL = "dayu.io/workload"
COMPONENT_LABEL = "dayu.io/component"
NODE_LABEL = "dayu.io/node"
SERVICE_LABEL = "dayu.io/service"
SOURCE_LABEL = "dayu.io/source"
PORT_ANNOTATION = "dayu.io/port"
SPEC_HASH_ANNOTATION = "dayu.io/spec-hash"
TOPOLOGY_CONFIGMAP = "dayu-topology"
TOPOLOGY_MOUNT = "/etc/dayu"
TOKEN_SECRET = "dayu-token"
TOKEN_KEY = "token"
"""The API (admin) token: the backend's only."""
COMPONENT_TOKEN_KEY = "component-token"
"""The components' and the datasource's token, which the backend accepts for reads only."""
WORK_MOUNT = "/var/lib/dayu/work"
CONTAINER_PORT = 8000
COMPONENT_UID = 10001
"""The uid/gid the images run as (hack/docker/Dockerfile)."""

Network = Literal["service", "host"]
"""``service``: components reach each other by Service DNS names (edge pods need EdgeMesh on KubeEdge);
``host``: pods use their node's network and components reach each other at node address and port."""


def _amounts(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> Resources:
    return Resources(
        requests=ResourceAmounts(cpu=cpu, memory=memory), limits=ResourceAmounts(cpu=cpu_limit, memory=memory_limit)
    )


DEFAULT_RESOURCES: dict[str, Resources] = {
    "generator": _amounts("250m", "256Mi", "1", "1Gi"),
    "controller": _amounts("100m", "128Mi", "500m", "512Mi"),
    "processor": _amounts("500m", "512Mi", "2", "2Gi"),
    "distributor": _amounts("100m", "256Mi", "500m", "512Mi"),
    "scheduler": _amounts("100m", "256Mi", "1", "1Gi"),
    "monitor": _amounts("50m", "96Mi", "250m", "256Mi"),
    "backend": _amounts("100m", "256Mi", "1", "1Gi"),
    "datasource": _amounts("250m", "256Mi", "1", "512Mi"),
}
"""Requests (what the scheduler and the kubelet reserve) and limits (so that one runaway component cannot
starve a small edge node) per component; the template's ``kubernetes.resources`` overrides any of them."""


def container_resources(component: str, overrides: Mapping[str, Resources] | None = None) -> dict[str, dict[str, str]]:
    """Kubernetes ``resources`` of a component's container: the template's amounts over the defaults."""
    default = DEFAULT_RESOURCES[component]
    override = (overrides or {}).get(component)
    out: dict[str, dict[str, str]] = {}
    for part in ("requests", "limits"):
        merged = {**getattr(default, part).model_dump(exclude_none=True)}
        if override is not None:
            merged.update(getattr(override, part).model_dump(exclude_none=True))
        out[part] = merged
    return out


JETSON_RUNTIME_CLASS = "nvidia"
GPU_RESOURCE = "nvidia.com/gpu"


def runtime_selector(install: str) -> str:
    """Every runtime object of one install, and nothing else."""
    return f"{PLANE_LABEL}=runtime,{INSTALL_LABEL}={install}"


def workload_selector(install: str, name: str) -> str:
    return f"{runtime_selector(install)},{WORKLOAD_LABEL}={name}"


def base_labels(install: str, plane: str) -> dict[str, str]:
    return {PART_OF: "dayu", INSTALL_LABEL: install, PLANE_LABEL: plane}


def labels(w: Workload, install: str) -> dict[str, str]:
    out = {**base_labels(install, "runtime"), WORKLOAD_LABEL: w.name, COMPONENT_LABEL: w.component, NODE_LABEL: w.node}
    if w.service:
        out[SERVICE_LABEL] = w.service
    if w.source_id:
        out[SOURCE_LABEL] = sedna.label_value(w.source_id)
    return out


def image_variant(image: str) -> str:
    """``gpu``, ``jetson`` or ``cpu``, from the image name the planner chose for the node."""
    name = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    if name.endswith("-gpu"):
        return "gpu"
    if name.endswith(("-jetson5", "-jetson6")):
        return "jetson"
    return "cpu"


def token_env(key: str = COMPONENT_TOKEN_KEY, name: str = "DAYU_TOKEN") -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": TOKEN_SECRET, "key": key}}}


def _env(w: Workload, port: int) -> list[dict[str, Any]]:
    env = {k: v for k, v in w.env.items() if k != "DAYU_TOKEN"}  # the token comes from the Secret
    env.update(
        {
            "DAYU_HOST": "0.0.0.0",
            "DAYU_PORT": str(port),
            "DAYU_NODE": w.node,
            "DAYU_TOPOLOGY": f"{TOPOLOGY_MOUNT}/topology.json",
            "DAYU_CONFIG": json.dumps(w.config, separators=(",", ":"), sort_keys=True),
            "DAYU_WORK_DIR": WORK_MOUNT,
        }
    )
    if w.service:
        env["DAYU_SERVICE"] = w.service
    if w.source_id:
        env["DAYU_SOURCE_ID"] = w.source_id
    return [{"name": k, "value": v} for k, v in sorted(env.items())] + [token_env()]


def container_security() -> dict[str, Any]:
    return {
        "runAsUser": COMPONENT_UID,
        "runAsGroup": COMPONENT_UID,
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }


def pod_security() -> dict[str, Any]:
    """The pod's own part of the ``baseline`` Pod Security level (and of ``restricted``'s seccomp rule)."""
    return {"seccompProfile": {"type": "RuntimeDefault"}}


def prepare_dirs(image: str, volumes: Mapping[str, str]) -> dict[str, Any]:
    """An init container that makes host directories (hostPath volumes, created root-owned 0755 by the
    kubelet) writable for the component user before the component starts."""
    paths = " ".join(sorted(volumes.values()))
    return {
        "name": "prepare-dirs",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", f"chown {COMPONENT_UID}:{COMPONENT_UID} {paths} && chmod 0770 {paths}"],
        # root with only the two capabilities chown and chmod of another user's directory need
        "securityContext": {
            "runAsUser": 0,
            "runAsNonRoot": False,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"], "add": ["CHOWN", "FOWNER"]},
        },
        "volumeMounts": [{"name": name, "mountPath": path} for name, path in sorted(volumes.items())],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
    }


def work_dir(namespace: str) -> str:
    """The node's work directory on the host: one per install, shared by the install's pods on that node."""
    return f"/var/lib/dayu/{namespace}/work"


def pod_template(
    w: Workload,
    install: str,
    namespace: str,
    network: Network = "service",
    resources: Mapping[str, Resources] | None = None,
) -> dict[str, Any]:
    port = w.port or CONTAINER_PORT
    image = w.image or f"dayu/{w.component}:latest"
    variant = image_variant(image)
    amounts: dict[str, Any] = container_resources(w.component, resources)
    if variant == "gpu" and w.component == "processor":
        amounts["limits"][GPU_RESOURCE] = "1"  # shared or not: kubernetes.gpu (backend/deploy/gpus.py)
    container: dict[str, Any] = {
        "name": w.component,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "env": _env(w, port),
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/health", "port": port}, "periodSeconds": 3, "failureThreshold": 3},
        "livenessProbe": {"httpGet": {"path": "/health", "port": port}, "periodSeconds": 10, "failureThreshold": 6},
        "resources": amounts,
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "topology", "mountPath": TOPOLOGY_MOUNT, "readOnly": True},
            {"name": "work", "mountPath": WORK_MOUNT},
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
        {"name": "work", "hostPath": {"path": work_dir(namespace), "type": "DirectoryOrCreate"}},
    ]
    volumes += [{"name": f"mount-{i}", "hostPath": {"path": m.host_path}} for i, m in enumerate(w.mounts)]
    spec: dict[str, Any] = {
        "nodeName": w.node,
        # Components reach no Kubernetes API: no service-account token in their pods.
        "automountServiceAccountToken": False,
        "securityContext": pod_security(),
        "initContainers": [prepare_dirs(image, {"work": WORK_MOUNT})],
        "containers": [container],
        "volumes": volumes,
        "restartPolicy": "Always",
    }
    if variant == "jetson" and w.component in ("processor", "monitor"):
        spec["runtimeClassName"] = JETSON_RUNTIME_CLASS  # JetPack's GPU is reached through NVIDIA's runtime
    if network == "host":
        spec["hostNetwork"] = True
        spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    return {"metadata": {"labels": labels(w, install)}, "spec": spec}


def spec_hash(obj: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(obj["spec"], sort_keys=True).encode()).hexdigest()[:16]


def _meta(w: Workload, install: str, namespace: str, name: str | None = None) -> dict[str, Any]:
    return {
        "name": name or w.name,
        "namespace": namespace,
        "labels": labels(w, install),
        "annotations": {PORT_ANNOTATION: str(w.port or CONTAINER_PORT)},
    }


def render_native(
    w: Workload,
    install: str,
    namespace: str,
    network: Network = "service",
    resources: Mapping[str, Resources] | None = None,
) -> list[dict[str, Any]]:
    port = w.port or CONTAINER_PORT
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(w, install, namespace),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {INSTALL_LABEL: install, WORKLOAD_LABEL: w.name}},
            "strategy": {"type": "Recreate"},
            "template": pod_template(w, install, namespace, network, resources),
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(w, install, namespace),
        "spec": {
            "type": "NodePort",
            "selector": {INSTALL_LABEL: install, WORKLOAD_LABEL: w.name},
            "ports": [{"name": "http", "port": port, "targetPort": port}],
        },
    }
    return [deployment, service]


def render_sedna(
    w: Workload,
    install: str,
    namespace: str,
    role: str,
    network: Network = "service",
    resources: Mapping[str, Resources] | None = None,
) -> list[dict[str, Any]]:
    port = w.port or CONTAINER_PORT
    # The CRD types template.metadata as a bare object: the API server would prune labels put there, so the
    # template carries none; the controller adds its own (sedna.NAME_LABEL) and Dayu's stay on the resource.
    template = {"spec": pod_template(w, install, namespace, network, resources)["spec"]}
    worker = {"logLevel": {"level": "info"}, "template": template}
    spec: dict[str, Any] = {"serviceConfig": {"pos": sedna.position(role), "port": port, "targetPort": port}}
    if role == "cloud":
        spec["cloudWorker"] = worker
    else:
        spec["edgeWorker"] = [worker]
    meta = _meta(w, install, namespace, sedna.resource_name(w.name))
    obj = {"apiVersion": sedna.API_VERSION, "kind": sedna.KIND, "metadata": meta, "spec": spec}
    meta["annotations"][SPEC_HASH_ANNOTATION] = spec_hash(obj)
    return [obj]


def render_runtime_service(
    w: Workload,
    install: str,
    namespace: str,
    revision: int,
    network: Network = "service",
    resources: Mapping[str, Resources] | None = None,
) -> list[dict[str, Any]]:
    """One RuntimeService of this revision. The pod template keeps Dayu's labels (the CRD types them), runs
    without a service-account token (the controller refuses one) and declares the endpoint's port."""
    port = w.port or CONTAINER_PORT
    template = pod_template(w, install, namespace, network, resources)
    spec: dict[str, Any] = {
        "installID": install,
        "deploymentRevision": revision,
        "component": w.component,
        "targetNode": w.node,
        "podTemplate": template,
        "endpoint": {"port": port},
    }
    if w.service:
        spec["logicalService"] = w.service
    meta = _meta(w, install, namespace, runtime_service.resource_name(w.name, revision))
    meta["annotations"][SPEC_HASH_ANNOTATION] = runtime_service.spec_hash(spec)
    return [{"apiVersion": runtime_service.API_VERSION, "kind": runtime_service.KIND, "metadata": meta, "spec": spec}]


def endpoint_host(
    w: Workload,
    nodes: Mapping[str, NodeSpec],
    namespace: str,
    mode: str,
    network: Network,
    addresses: Mapping[str, str],
    runtime_names: Mapping[str, str] | None = None,
) -> str:
    if network == "host":
        return addresses.get(w.node, w.node)
    if mode == "runtime-service":
        name = (runtime_names or {}).get(w.name) or runtime_service.resource_name(w.name, 1)
        return runtime_service.dns_name(name, namespace)
    if mode == "sedna":
        return f"{sedna.service_name(sedna.resource_name(w.name), nodes[w.node].role)}.{namespace}.svc"
    return f"{w.name}.{namespace}.svc"


def topology_for(
    workloads: Sequence[Workload],
    nodes: Mapping[str, NodeSpec],
    links: Sequence[LinkModel],
    namespace: str,
    *,
    mode: str = "native",
    network: Network = "service",
    addresses: Mapping[str, str] | None = None,
    runtime_names: Mapping[str, str] | None = None,
) -> TopologyModel:
    """Where every component is reached inside the cluster: its Service's DNS name (in sedna mode the
    Service the controller creates, ``lower(<cr-name>-<pos>)``; in runtime-service mode the DNS name the
    controller reports for the RuntimeService ``runtime_names[workload]``), or its node's address with host
    networking."""
    specs = {name: NodeSpec(role=n.role, arch=n.arch, labels=n.labels) for name, n in nodes.items()}
    for w in workloads:
        host = endpoint_host(w, nodes, namespace, mode, network, addresses or {}, runtime_names)
        endpoint = Endpoint(host=host, port=w.port or CONTAINER_PORT)
        target = specs[w.node].processors if w.component == "processor" else specs[w.node].components
        target[w.topology_key()] = endpoint
    return TopologyModel(nodes=specs, links=list(links))


def topology_configmap(model: TopologyModel, install: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": TOPOLOGY_CONFIGMAP, "namespace": namespace, "labels": base_labels(install, "runtime")},
        "data": {"topology.json": model.model_dump_json(indent=2)},
    }


def assign_host_ports(workloads: Sequence[Workload], used: Mapping[str, set[int]]) -> list[Workload]:
    """With host networking, every workload of a node needs a port of its own: the template's port, or the
    next free one above it. ``used``: ports already taken per node (by workloads deployed before)."""
    taken = {node: set(ports) for node, ports in used.items()}
    out = []
    for w in workloads:
        port = w.port or CONTAINER_PORT
        node_ports = taken.setdefault(w.node, set())
        while port in node_ports:
            port += 1
        node_ports.add(port)
        out.append(w.model_copy(update={"port": port}))
    return out


def render(
    workloads: Sequence[Workload],
    nodes: Mapping[str, NodeSpec],
    mode: str,
    namespace: str,
    *,
    install: str | None = None,
    network: Network = "service",
    revision: int = 1,
    resources: Mapping[str, Resources] | None = None,
) -> list[dict[str, Any]]:
    """``resources``: the template's ``kubernetes.resources`` (CPU and memory per component)."""
    install = install or namespace
    out: list[dict[str, Any]] = []
    for w in workloads:
        if mode == "runtime-service":
            out += render_runtime_service(w, install, namespace, revision, network, resources)
        elif mode == "sedna":
            out += render_sedna(w, install, namespace, nodes[w.node].role, network, resources)
        else:
            out += render_native(w, install, namespace, network, resources)
    return out
