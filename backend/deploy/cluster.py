"""``dayu.sh`` with ``runtime: kubernetes``: the control plane (backend + datasource) on the cluster.

Start: namespace, service account and RBAC (the backend deploys the components), the token Secret, the
backend and datasource Deployments with NodePort Services on the cloud node; waits until ready and
prints the URL. Stop: uninstall through the backend, then delete the namespace. System namespaces
are refused.
"""

from __future__ import annotations

import secrets
import sys
import time
from typing import Any

from backend.deploy.kube_api import KubeApi
from backend.deploy.kube_topology import node_specs
from backend.deploy.kubernetes import check_namespace
from backend.templates import Template
from common.errors import Unavailable

PART_OF = {"app.kubernetes.io/part-of": "dayu", "dayu.io/plane": "control"}
TOKEN_SECRET = "dayu-token"


def _meta(name: str, namespace: str | None = None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**PART_OF, **labels}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _app(name: str, namespace: str, image: str, node: str, port: int, env: dict[str, str]) -> list[dict[str, Any]]:
    labels = {"dayu.io/workload": name}
    env_list: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(env.items())]
    env_list.append({"name": "DAYU_TOKEN", "valueFrom": {"secretKeyRef": {"name": TOKEN_SECRET, "key": "token"}}})
    pod = {
        "metadata": {"labels": {**PART_OF, **labels}},
        "spec": {
            "serviceAccountName": "dayu",
            "nodeName": node,
            "containers": [
                {
                    "name": name,
                    "image": image,
                    "env": env_list,
                    "ports": [{"name": "http", "containerPort": port}],
                    "readinessProbe": {"httpGet": {"path": "/health", "port": port}, "periodSeconds": 3},
                }
            ],
        },
    }
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta(name, namespace, **labels),
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": pod},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(name, namespace, **labels),
            "spec": {
                "type": "NodePort",
                "selector": labels,
                "ports": [{"name": "http", "port": port, "targetPort": port}],
            },
        },
    ]


def control_plane_manifests(template: Template, cloud: str, token: str) -> list[dict[str, Any]]:
    ns = check_namespace(template.base.namespace)
    image = template.base.image
    be, ds = template.base.backend, template.base.datasource
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns)},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("dayu", ns)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta("dayu-deployer", ns),
            "rules": [
                {"apiGroups": ["", "apps", "sedna.io"], "resources": ["*"], "verbs": ["*"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta("dayu-deployer", ns),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "dayu-deployer"},
            "subjects": [{"kind": "ServiceAccount", "name": "dayu", "namespace": ns}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta(f"dayu-{ns}-nodes"),
            "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(f"dayu-{ns}-nodes"),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"dayu-{ns}-nodes"},
            "subjects": [{"kind": "ServiceAccount", "name": "dayu", "namespace": ns}],
        },
        {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(TOKEN_SECRET, ns), "stringData": {"token": token}},
        *_app(
            "datasource",
            ns,
            image.reference("datasource"),
            cloud,
            ds.port,
            {"DAYU_HOST": "0.0.0.0", "DAYU_PORT": str(ds.port)},
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
                "DAYU_DATASOURCE_URL": f"http://datasource.{ns}.svc:{ds.port}",
            },
        ),
    ]


def start(api: KubeApi, template: Template, token: str | None = None, timeout: float = 300.0) -> str:
    nodes = node_specs(api.nodes())
    cloud = next((n for n, s in nodes.items() if s.role == "cloud"), None)
    if cloud is None:
        raise Unavailable("the cluster has no control-plane node to run the control plane on")
    ns = template.base.namespace
    for obj in control_plane_manifests(template, cloud, token or secrets.token_urlsafe(24)):
        api.apply(obj)
    deadline = time.monotonic() + timeout
    selector = "app.kubernetes.io/part-of=dayu,dayu.io/plane=control"
    while True:
        pods = api.pods(ns, selector)
        ready = [p for p in pods if any(c.get("type") == "Ready" and c.get("status") == "True"
                                        for c in (p.get("status") or {}).get("conditions") or [])]  # fmt: skip
        if len(pods) >= 2 and len(ready) == len(pods):
            break
        if time.monotonic() > deadline:
            raise Unavailable(f"the control plane is not ready after {timeout:.0f}s in namespace {ns!r}")
        time.sleep(2)
    service = next(s for s in api.services(ns, selector) if s["metadata"]["name"] == "backend")
    ports = service["spec"]["ports"][0]
    node_port = ports.get("node_port") or ports.get("nodePort")
    return f"http://{cloud}:{node_port}"


def stop(api: KubeApi, template: Template) -> None:
    ns = check_namespace(template.base.namespace)
    api.delete("v1", "Namespace", "", f"app.kubernetes.io/part-of=dayu,kubernetes.io/metadata.name={ns}")
    api.delete("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "app.kubernetes.io/part-of=dayu")
    api.delete("rbac.authorization.k8s.io/v1", "ClusterRole", "", "app.kubernetes.io/part-of=dayu")
    print(f"dayu: namespace {ns!r} and its cluster roles deleted", file=sys.stderr)
