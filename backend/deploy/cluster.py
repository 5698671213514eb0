"""``dayu.sh`` with ``runtime: kubernetes``: the control plane (backend + datasource) on the cluster.

Start: namespace, service account and RBAC (the backend deploys the components), the token Secret, the
user's template as a ConfigMap (the backend reads it, so namespace, mode, images and catalogs take
effect), the backend and datasource Deployments with NodePort Services on the cloud node, their state on
host directories of that node (kept across pod restarts); in sedna mode the CRD first, and a check that
the dayu-sedna controller runs. Waits until ready and prints the URL. Stop: uninstall through the
backend, then delete the namespace and this namespace's cluster roles. System namespaces are refused.

Every object carries ``dayu.io/plane: control`` and ``dayu.io/install: <namespace>``: the backend's
removal of workloads (``dayu.io/plane: runtime``) never selects them.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from backend.deploy import sedna
from backend.deploy.kube_api import KubeApi
from backend.deploy.kube_render import (
    COMPONENT_TOKEN_KEY,
    INSTALL_LABEL,
    PLANE_LABEL,
    TOKEN_KEY,
    TOKEN_SECRET,
    WORKLOAD_LABEL,
    base_labels,
    container_resources,
    container_security,
    pod_security,
    prepare_dirs,
    token_env,
)
from backend.deploy.kube_topology import node_addresses, node_specs
from backend.deploy.kubernetes import check_namespace, ensure_crd
from backend.templates import Resources, Template
from common.errors import ConfigError, Unavailable

TEMPLATE_CONFIGMAP = "dayu-template"
TEMPLATE_MOUNT = "/etc/dayu/template"
STATE_MOUNT = "/data"
TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json")
TEMPLATE_HASH_ANNOTATION = "dayu.io/template-hash"
"""On the backend's pod template: a changed template changes it, and the Deployment replaces the pod."""
MAX_CONFIGMAP_BYTES = 900 * 1024
"""Below the API server's 1 MiB limit on one object."""


def control_selector(namespace: str) -> str:
    return f"{PLANE_LABEL}=control,{INSTALL_LABEL}={namespace}"


def _meta(name: str, namespace: str | None, install: str, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**base_labels(install, "control"), **labels}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def state_dir(namespace: str, name: str) -> str:
    return f"/var/lib/dayu/{namespace}/{name}"


def template_configmap(template: Template, namespace: str) -> dict[str, Any]:
    """Every YAML/JSON file of the template directory; keys cannot hold ``/``, so files in subdirectories
    are stored as ``<dir>__<file>`` and mounted back at their paths (``items`` of the volume)."""
    root = Path(template.root)
    data: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix not in TEMPLATE_SUFFIXES:
            continue
        rel = path.relative_to(root).as_posix()
        text = path.read_text()
        if rel == "base.yaml":
            base = yaml.safe_load(text)
            # In the cluster the backend reaches the API server with its service account.
            base.setdefault("kubernetes", {})["kubeconfig"] = None
            base["runtime"] = "kubernetes"
            text = yaml.safe_dump(base, sort_keys=False)
        data[rel.replace("/", "__")] = text
    size = sum(len(k) + len(v.encode()) for k, v in data.items())
    if size > MAX_CONFIGMAP_BYTES:
        raise ConfigError(f"the template directory {root} holds {size} bytes of YAML; a ConfigMap takes at most 1 MiB")
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(TEMPLATE_CONFIGMAP, namespace, namespace),
        "data": data,
    }


def template_hash(configmap: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(configmap["data"], sort_keys=True).encode()).hexdigest()[:16]


def template_items(configmap: dict[str, Any]) -> list[dict[str, str]]:
    return [{"key": key, "path": key.replace("__", "/")} for key in sorted(configmap["data"])]


def _app(
    name: str,
    namespace: str,
    image: str,
    node: str,
    port: int,
    env: dict[str, str],
    *,
    state: str,
    service_account: str,
    tokens: list[dict[str, Any]],
    resources: Mapping[str, Resources],
    annotations: dict[str, str] | None = None,
    extra_volumes: list[dict[str, Any]] | None = None,
    extra_mounts: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Deployment + NodePort Service; ``state`` is a host directory of ``node`` mounted at /data."""
    labels = {INSTALL_LABEL: namespace, WORKLOAD_LABEL: name}
    env_list: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(env.items())]
    env_list += tokens
    pod: dict[str, Any] = {
        "metadata": {"labels": {**base_labels(namespace, "control"), **labels}},
        "spec": {
            "serviceAccountName": service_account,
            # Only the backend talks to the API server; no other pod gets a token to do so.
            "automountServiceAccountToken": service_account == BACKEND_ACCOUNT,
            "securityContext": pod_security(),
            "nodeName": node,
            "initContainers": [prepare_dirs(image, {"state": STATE_MOUNT})],
            "containers": [
                {
                    "name": name,
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "env": env_list,
                    "ports": [{"name": "http", "containerPort": port}],
                    "readinessProbe": {"httpGet": {"path": "/health", "port": port}, "periodSeconds": 3},
                    "resources": container_resources(name, resources),
                    "securityContext": container_security(),
                    "volumeMounts": [{"name": "state", "mountPath": STATE_MOUNT}, *(extra_mounts or [])],
                }
            ],
            "volumes": [
                {"name": "state", "hostPath": {"path": state, "type": "DirectoryOrCreate"}},
                *(extra_volumes or []),
            ],
        },
    }
    if annotations:
        pod["metadata"]["annotations"] = dict(annotations)
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta(name, namespace, namespace, **labels),
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "strategy": {"type": "Recreate"},
                "template": pod,
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(name, namespace, namespace, **labels),
            "spec": {
                "type": "NodePort",
                "selector": labels,
                "ports": [{"name": "http", "port": port, "targetPort": port}],
            },
        },
    ]


BACKEND_ACCOUNT = "dayu"
DATASOURCE_ACCOUNT = "dayu-datasource"
"""Bound to nothing: the datasource needs no Kubernetes API."""
WRITE = ["get", "list", "create", "patch", "delete"]
"""Server-side apply is a PATCH that creates what does not exist yet (the API server then also checks create)."""


def deployer_rules() -> list[dict[str, Any]]:
    """Exactly what the backend's deployer calls in its namespace, in every mode: no ``*``, no pods/exec, no
    service-account tokens, no Secrets (the token reaches the backend as an environment variable)."""
    return [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": WRITE},
        {"apiGroups": [""], "resources": ["services"], "verbs": WRITE},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": WRITE},
        {"apiGroups": ["sedna.io"], "resources": ["jointmultiedgeservices", "runtimeservices"], "verbs": WRITE},
    ]


def rbac(namespace: str) -> list[dict[str, Any]]:
    ns, cluster_name = namespace, f"dayu-{namespace}-nodes"
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(BACKEND_ACCOUNT, ns, ns)},
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(DATASOURCE_ACCOUNT, ns, ns),
            "automountServiceAccountToken": False,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta("dayu-deployer", ns, ns),
            "rules": deployer_rules(),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta("dayu-deployer", ns, ns),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "dayu-deployer"},
            "subjects": [{"kind": "ServiceAccount", "name": BACKEND_ACCOUNT, "namespace": ns}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta(cluster_name, None, ns),
            "rules": [
                {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]},
                {
                    "apiGroups": ["apiextensions.k8s.io"],
                    "resources": ["customresourcedefinitions"],
                    "resourceNames": ["jointmultiedgeservices.sedna.io", "runtimeservices.sedna.io"],
                    "verbs": ["get"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(cluster_name, None, ns),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_name},
            "subjects": [{"kind": "ServiceAccount", "name": BACKEND_ACCOUNT, "namespace": ns}],
        },
    ]


def token_secret(namespace: str, token: str, component_token: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(TOKEN_SECRET, namespace, namespace),
        "stringData": {TOKEN_KEY: token, COMPONENT_TOKEN_KEY: component_token},
    }


def control_plane_manifests(
    template: Template, cloud: str, token: str, component_token: str | None = None
) -> list[dict[str, Any]]:
    """``component_token``: the components' own token (default: a new random one)."""
    component_token = component_token or secrets.token_urlsafe(24)
    if component_token == token:
        raise ConfigError("the components' token must differ from the API token")
    ns = check_namespace(template.base.namespace)
    image = template.base.image
    be, ds = template.base.backend, template.base.datasource
    config = template_configmap(template, ns)
    template_volume = {
        "name": "template",
        "configMap": {"name": TEMPLATE_CONFIGMAP, "items": template_items(config)},
    }
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns, None, ns)},
        *rbac(ns),
        token_secret(ns, token, component_token),
        config,
        *_app(
            "datasource",
            ns,
            image.reference("datasource"),
            cloud,
            ds.port,
            {"DAYU_HOST": "0.0.0.0", "DAYU_PORT": str(ds.port), "DAYU_ROOT": f"{STATE_MOUNT}/datasets"},
            state=state_dir(ns, "datasource"),
            service_account=DATASOURCE_ACCOUNT,
            resources=template.base.kubernetes.resources,
            tokens=[token_env(COMPONENT_TOKEN_KEY)],
        ),
        *_app(
            "backend",
            ns,
            image.reference("backend"),
            cloud,
            be.port,
            {
                "DAYU_HOST": "0.0.0.0",
                "DAYU_PORT": str(be.port),
                "DAYU_DEPLOYER": "kubernetes",
                "DAYU_TEMPLATE": TEMPLATE_MOUNT,
                "DAYU_STATE_DIR": f"{STATE_MOUNT}/backend",
                "DAYU_DATASOURCE_URL": f"http://datasource.{ns}.svc:{ds.port}",
            },
            state=state_dir(ns, "backend"),
            service_account=BACKEND_ACCOUNT,
            # the backend reads the template at start: a changed one must replace its pod
            annotations={TEMPLATE_HASH_ANNOTATION: template_hash(config)},
            resources=template.base.kubernetes.resources,
            tokens=[token_env(TOKEN_KEY), token_env(COMPONENT_TOKEN_KEY, "DAYU_COMPONENT_TOKEN")],
            extra_volumes=[template_volume],
            extra_mounts=[{"name": "template", "mountPath": TEMPLATE_MOUNT, "readOnly": True}],
        ),
    ]


def check_sedna_controller(api: KubeApi, mode: str = "sedna") -> None:
    if api.get("apps/v1", "Deployment", sedna.CONTROLLER_NAMESPACE, sedna.CONTROLLER_DEPLOYMENT) is None:
        raise Unavailable(
            f"kubernetes.mode is {mode} but the cluster runs no dayu-sedna controller (no Deployment "
            f"{sedna.CONTROLLER_DEPLOYMENT!r} in namespace {sedna.CONTROLLER_NAMESPACE!r}); install it "
            "(docs/control-plane.md) or set kubernetes.mode: native"
        )


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _current(pod: dict[str, Any], hashes: dict[str, str]) -> bool:
    """A pod of the control plane's present spec: not terminating, and (the backend) of the present template."""
    meta = pod["metadata"]
    if meta.get("deletion_timestamp") or meta.get("deletionTimestamp"):
        return False
    wanted = hashes.get((meta.get("labels") or {}).get(WORKLOAD_LABEL, ""))
    return wanted is None or (meta.get("annotations") or {}).get(TEMPLATE_HASH_ANNOTATION) == wanted


def start(
    api: KubeApi,
    template: Template,
    token: str | None = None,
    timeout: float | None = None,
    *,
    component_token: str | None = None,
    poll_s: float = 2.0,
) -> str:
    """Apply the control plane and wait (``timeout``, default the template's ``kubernetes.ready_timeout_s``)
    until the backend and the datasource of the present template are ready; returns the backend's URL at the
    cloud node's InternalIP, an address a browser can open (a node name often does not resolve outside)."""
    timeout = template.base.kubernetes.ready_timeout_s if timeout is None else timeout
    ns = check_namespace(template.base.namespace)
    raw_nodes = api.nodes()
    nodes = node_specs(raw_nodes)
    cloud = next((n for n, s in nodes.items() if s.role == "cloud"), None)
    if cloud is None:
        raise Unavailable("the cluster has no control-plane node to run the control plane on")
    if template.base.kubernetes.mode in ("sedna", "runtime-service"):
        check_sedna_controller(api, template.base.kubernetes.mode)
        ensure_crd(api, template.base.kubernetes.mode)
    objs = control_plane_manifests(template, cloud, token or secrets.token_urlsafe(24), component_token)
    hashes = {
        o["metadata"]["name"]: o["spec"]["template"]["metadata"]["annotations"][TEMPLATE_HASH_ANNOTATION]
        for o in objs
        if o["kind"] == "Deployment"
        and TEMPLATE_HASH_ANNOTATION in (o["spec"]["template"]["metadata"].get("annotations") or {})
    }
    for obj in objs:
        api.apply(obj)
    deadline = time.monotonic() + timeout
    selector = control_selector(ns)
    while True:
        pods = api.pods(ns, selector)
        current = [p for p in pods if _current(p, hashes)]
        names = {(p["metadata"].get("labels") or {}).get(WORKLOAD_LABEL) for p in current if _ready(p)}
        if {"backend", "datasource"} <= names and len(current) == len(pods):
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Unavailable(
                f"the control plane is not ready after {timeout:g}s (kubernetes.ready_timeout_s) in namespace {ns!r}"
            )
        time.sleep(min(poll_s, max(0.01, remaining)))
    service = next(s for s in api.services(ns, selector) if s["metadata"]["name"] == "backend")
    ports = service["spec"]["ports"][0]
    node_port = ports.get("node_port") or ports.get("nodePort")
    return f"http://{node_addresses(raw_nodes)[cloud]}:{node_port}"


def stop(api: KubeApi, template: Template) -> None:
    """The namespace (and all in it) and the cluster roles made for this namespace, nothing else."""
    ns = check_namespace(template.base.namespace)
    mine = control_selector(ns)
    if api.delete("v1", "Namespace", "", f"{mine},kubernetes.io/metadata.name={ns}") == 0:
        print(f"dayu: namespace {ns!r} was not made by dayu.sh; left alone", file=sys.stderr)
    api.delete("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", mine)
    api.delete("rbac.authorization.k8s.io/v1", "ClusterRole", "", mine)
    print(f"dayu: namespace {ns!r} and its cluster roles deleted", file=sys.stderr)
