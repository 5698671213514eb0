"""A loopback HTTP server that speaks the Kubernetes REST API for the objects Dayu uses, over the in-memory
stand-in cluster (fake_cluster.py): no API server can run here, but the official ``kubernetes`` client's
whole path (kubeconfig, bearer token, discovery, URL building, serialisation, ApiException) can.

What it serves, as the API server does: ``/version``, discovery (``/api``, ``/api/v1``, ``/apis``, each
group version's APIResourceList; a custom resource's group appears once its CRD is established); GET of an
item or a collection (``labelSelector``, all namespaces when none is given); PATCH only as server-side apply
(``Content-Type: application/apply-patch+yaml``, ``fieldManager`` required, 409 Conflict when another field
manager owns the object and ``force`` is not true); DELETE. Errors are ``Status`` bodies with the API
server's reasons and codes (401 Unauthorized, 403 Forbidden, 404 NotFound, 409 Conflict, 415, 422).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from common.errors import Unavailable
from tests.backend.deploy.fake_cluster import FakeCluster

APPLY_PATCH = "application/apply-patch+yaml"
BUILTIN: dict[tuple[str, str], list[tuple[str, str, bool]]] = {
    ("", "v1"): [
        ("pods", "Pod", True),
        ("services", "Service", True),
        ("configmaps", "ConfigMap", True),
        ("secrets", "Secret", True),
        ("serviceaccounts", "ServiceAccount", True),
        ("namespaces", "Namespace", False),
        ("nodes", "Node", False),
    ],
    ("apps", "v1"): [("deployments", "Deployment", True)],
    ("rbac.authorization.k8s.io", "v1"): [
        ("roles", "Role", True),
        ("rolebindings", "RoleBinding", True),
        ("clusterroles", "ClusterRole", False),
        ("clusterrolebindings", "ClusterRoleBinding", False),
    ],
    ("apiextensions.k8s.io", "v1"): [("customresourcedefinitions", "CustomResourceDefinition", False)],
}
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    405: "MethodNotAllowed",
    415: "UnsupportedMediaType",
    422: "Invalid",
}


def status_body(code: int, message: str, *, name: str = "", kind: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": REASONS[code],
        "code": code,
    }
    if name or kind:
        body["details"] = {"name": name, "kind": kind}
    return body


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    authorization: str
    code: int = 0
    """The status the server answered with (0 while it is being answered)."""


@dataclass
class KubeHttp:
    """The server's state: the cluster behind it, the token it accepts, what it was asked, who manages what."""

    cluster: FakeCluster
    token: str = "test-token"
    requests: list[Request] = field(default_factory=list)
    managers: dict[tuple[str, str, str], str] = field(default_factory=dict)
    refuse: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    """(method, path) -> (code, message): answers the API server would give (e.g. an admission refusal)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def groups(self) -> dict[tuple[str, str], list[tuple[str, str, bool]]]:
        out = {k: list(v) for k, v in BUILTIN.items()}
        for (kind, _, _), crd in self.cluster.objects.items():
            if kind != "CustomResourceDefinition" or not self.cluster.crd_established(crd["metadata"]["name"]):
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                entry = (spec["names"]["plural"], spec["names"]["kind"], spec["scope"] == "Namespaced")
                out.setdefault((spec["group"], version["name"]), []).append(entry)
        return out


def _route(state: KubeHttp, path: str) -> tuple[str, str, tuple[str, str, bool] | None, str, str] | None:
    """(group, version, resource, namespace, name) of a resource path; None when it is no such path."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    resources = state.groups().get((group, version))
    if resources is None:
        return None
    if not rest:
        return group, version, None, "", ""
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    by_plural = {r[0]: r for r in resources}
    if rest[0] not in by_plural or len(rest) > 2:
        return None
    return group, version, by_plural[rest[0]], namespace, rest[1] if len(rest) == 2 else ""


class Handler(BaseHTTPRequestHandler):
    state: KubeHttp

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        state = self.state
        request = Request(
            method, url.path, query, self.headers.get("Content-Type", ""), self.headers.get("Authorization", "")
        )
        state.requests.append(request)
        if self.headers.get("Authorization") != f"Bearer {state.token}":
            code, body = 401, status_body(401, "Unauthorized")
        elif (method, url.path) in state.refuse:
            code, message = state.refuse[(method, url.path)]
            body = status_body(code, message)
        else:
            with state.lock:
                code, body = self._answer(method, url.path, query, raw)
        request.code = code
        self._send(code, body)

    def _answer(self, method: str, path: str, query: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        state = self.state
        if path == "/version":
            return 200, {"major": "1", "minor": "37", "gitVersion": "v1.37.0", "platform": "linux/amd64"}
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            groups: dict[str, list[str]] = {}
            for group, version in state.groups():
                if group:
                    groups.setdefault(group, []).append(version)
            items = [
                {
                    "name": g,
                    "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                    "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
                }
                for g, vs in sorted(groups.items())
            ]
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": items}
        route = _route(state, path)
        if route is None:
            return 404, status_body(404, "the server could not find the requested resource")
        group, version, resource, namespace, name = route
        api_version = f"{group}/{version}" if group else version
        if resource is None:
            if method != "GET":
                return 404, status_body(404, "the server could not find the requested resource")
            listed = [
                {"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind, "verbs": VERBS}
                for plural, kind, namespaced in state.groups()[(group, version)]
            ]
            return 200, {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": api_version,
                "resources": listed,
            }
        plural, kind, namespaced = resource
        if namespaced != bool(namespace) and name:
            return 404, status_body(404, "the server could not find the requested resource")
        cluster = state.cluster
        if method == "GET" and not name:
            items = cluster.list_objects(api_version, kind, namespace, query.get("labelSelector", ""))
            return 200, {
                "apiVersion": api_version,
                "kind": f"{kind}List",
                "metadata": {"resourceVersion": "1"},
                "items": items,
            }
        key = (kind, namespace, name)
        if method == "GET":
            obj = cluster.get(api_version, kind, namespace, name)
            if obj is None:
                return 404, status_body(404, f'{plural} "{name}" not found', name=name, kind=plural)
            return 200, obj
        if method == "DELETE":
            if not cluster.delete_named(api_version, kind, namespace, name):
                return 404, status_body(404, f'{plural} "{name}" not found', name=name, kind=plural)
            state.managers.pop(key, None)
            details = {"name": name, "kind": plural}
            return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
        if method == "PATCH":
            return self._apply(api_version, resource, namespace, name, query, raw)
        return 405, status_body(405, f"method {method} is not served here")

    def _apply(
        self,
        api_version: str,
        resource: tuple[str, str, bool],
        namespace: str,
        name: str,
        query: dict[str, str],
        raw: bytes,
    ) -> tuple[int, dict[str, Any]]:
        state, (plural, kind, namespaced) = self.state, resource
        if self.headers.get("Content-Type") != APPLY_PATCH:
            accepted = f"accepted media types include: {APPLY_PATCH}"
            return 415, status_body(415, f"the body of the request was in an unknown format - {accepted}")
        manager = query.get("fieldManager", "")
        if not manager:
            return 422, status_body(
                422, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
            )
        obj = yaml.safe_load(raw)
        meta = obj.get("metadata") or {}
        if obj.get("kind") != kind or obj.get("apiVersion") != api_version or meta.get("name") != name:
            return 400, status_body(400, "the name, kind or apiVersion of the object does not match the request URL")
        if namespaced and meta.get("namespace", namespace) != namespace:
            message = "the namespace of the provided object does not match the namespace sent on the request"
            return 400, status_body(400, message)
        if namespaced and ("Namespace", "", namespace) not in state.cluster.objects:
            return 404, status_body(404, f'namespaces "{namespace}" not found', name=namespace, kind="namespaces")
        key = (kind, namespace, name)
        owner = state.managers.get(key)
        if owner is not None and owner != manager and query.get("force") != "true":
            return 409, status_body(
                409, f'Apply failed with 1 conflict: conflict with "{owner}"', name=name, kind=plural
            )
        existed = state.cluster.get(api_version, kind, namespace, name) is not None
        try:
            state.cluster.apply(obj)
        except Unavailable as exc:
            return 403, status_body(403, exc.message, name=name, kind=plural)
        state.managers[key] = manager
        stored = state.cluster.get(api_version, kind, namespace, name)
        assert stored is not None
        return (200 if existed else 201), stored

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_POST(self) -> None:
        self._handle("POST")


@contextmanager
def serve(cluster: FakeCluster, tmp_path: Path) -> Iterator[tuple[KubeHttp, Path]]:
    """The server on a free loopback port, and a kubeconfig that points at it with its bearer token."""
    state = KubeHttp(cluster)
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "loop", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
                "users": [{"name": "dayu", "user": {"token": state.token}}],
                "contexts": [{"name": "loop", "context": {"cluster": "loop", "user": "dayu"}}],
                "current-context": "loop",
            }
        )
    )
    try:
        yield state, kubeconfig
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
