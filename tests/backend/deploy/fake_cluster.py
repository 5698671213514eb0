"""An in-memory stand-in for a Kubernetes API server and the controllers Dayu relies on (no API server can
run here). It behaves as documented, not as Dayu's code assumes:

- objects by (kind, namespace, name); label selectors with ``k=v`` and ``k`` (existence) terms;
  a Namespace gets the label ``kubernetes.io/metadata.name``;
- a Deployment gets one pod made from its template (the Deployment controller), removed with it;
  a NodePort Service gets a node port; deleting a Namespace deletes everything in it;
- a custom resource can only be applied once its CRD is established; applying a CRD establishes it
  (unless ``crd_forbidden``: then the apply is refused as a 403 would be);
- the dayu-sedna controller (``sedna_controller``): when a JointMultiEdgeService is *created*, one pod per
  worker and one Service ``<name>-<worker-type>`` (lower case), labelled only with
  ``jointmultiedgeservice.sedna.io/{name,uid,worker-type}``, with no owner reference: updates of the
  resource never reach them and deleting the resource leaves them behind.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from backend.deploy import sedna
from backend.deploy.kube_api import KubeApi
from common.errors import Unavailable

CLUSTER_SCOPED = {"Node", "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


def matches(obj: dict[str, Any], selector: str) -> bool:
    labels = obj["metadata"].get("labels") or {}
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key) != value:
                return False
        elif term not in labels:
            return False
    return True


def cluster_nodes() -> list[dict[str, Any]]:
    def node(name: str, ip: str, **labels: str) -> dict[str, Any]:
        return {
            "metadata": {"name": name, "labels": labels},
            "status": {"addresses": [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": ip}]},
        }

    return [
        node("master", "10.0.0.1", **{"node-role.kubernetes.io/control-plane": "", "kubernetes.io/arch": "amd64"}),
        node(
            "jetson-a",
            "10.0.0.2",
            **{"node-role.kubernetes.io/edge": "", "kubernetes.io/arch": "arm64", "dayu.io/jetson": "5"},
        ),
        node(
            "edge-b",
            "10.0.0.3",
            **{"node-role.kubernetes.io/edge": "", "kubernetes.io/arch": "amd64", "nvidia.com/gpu.present": "true"},
        ),
        node("other", "10.0.0.4"),
    ]


class FakeCluster(KubeApi):
    def __init__(self, *, sedna_controller: bool = True, crd_forbidden: bool = False) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.applied: list[str] = []
        self.ready = True
        self.sedna_controller = sedna_controller
        self.crd_forbidden = crd_forbidden
        self._ids = itertools.count(1)
        for n in cluster_nodes():
            self.objects[("Node", "", n["metadata"]["name"])] = n

    # -- helpers -------------------------------------------------------------------------------
    def _put(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        ns = "" if obj["kind"] in CLUSTER_SCOPED else meta.get("namespace", "")
        meta.setdefault("uid", f"uid-{next(self._ids)}")
        self.objects[(obj["kind"], ns, meta["name"])] = obj

    def _pod(self, name: str, namespace: str, template: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
        ready = "True" if self.ready else "False"
        waiting = [] if self.ready else [{"state": {"waiting": {"reason": "ImagePullBackOff", "message": "no image"}}}]
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": copy.deepcopy(template["spec"]),
            "status": {
                "phase": "Running" if self.ready else "Pending",
                "conditions": [{"type": "Ready", "status": ready}],
                "startTime": "2026-01-01T00:00:00Z",
                "containerStatuses": waiting,
            },
        }

    def crd_established(self) -> bool:
        return sedna.established(self.objects.get(("CustomResourceDefinition", "", sedna.CRD_NAME)))

    # -- KubeApi -------------------------------------------------------------------------------
    def apply(self, obj: dict[str, Any]) -> None:
        obj = copy.deepcopy(obj)
        kind, meta = obj["kind"], obj["metadata"]
        ns = "" if kind in CLUSTER_SCOPED else meta.get("namespace", "")
        existing = self.objects.get((kind, ns, meta["name"]))
        if kind == "CustomResourceDefinition":
            if self.crd_forbidden:
                raise Unavailable(f"cannot apply {kind} {meta['name']!r}: 403 Forbidden")
            obj["status"] = {"conditions": [{"type": "Established", "status": "True"}]}
        if kind == sedna.KIND and not self.crd_established():
            raise Unavailable(f"cannot apply {kind} {meta['name']!r}: the cluster does not know {obj['apiVersion']}")
        if kind == "Namespace":  # the API server labels every namespace with its name (since 1.21)
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        if kind == "Service" and obj["spec"].get("type") == "NodePort":
            obj["spec"]["ports"] = [{**p, "nodePort": 30000 + i} for i, p in enumerate(obj["spec"]["ports"])]
        if existing is not None:
            meta["uid"] = existing["metadata"]["uid"]
            meta.setdefault("creationTimestamp", existing["metadata"].get("creationTimestamp"))
        else:
            meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        self._put(obj)
        self.applied.append(f"{kind}/{meta['name']}")
        if kind == "Deployment":
            tpl = obj["spec"]["template"]
            self._put(self._pod(f"{meta['name']}-abc", ns, tpl, dict(tpl["metadata"]["labels"])))
        if kind == sedna.KIND and existing is None and self.sedna_controller:
            self._sedna_create(obj)

    def _sedna_create(self, obj: dict[str, Any]) -> None:
        meta, spec = obj["metadata"], obj["spec"]
        workers = [("cloud", spec["cloudWorker"])] if "cloudWorker" in spec else []
        workers += [("edge", w) for w in spec.get("edgeWorker") or []]
        for worker_type, worker in workers:
            labels = {
                sedna.NAME_LABEL: meta["name"],
                sedna.UID_LABEL: meta["uid"],
                sedna.WORKER_TYPE_LABEL: worker_type,
            }
            pod = self._pod(
                f"{meta['name']}-{worker_type}-{next(self._ids)}", meta["namespace"], worker["template"], labels
            )
            self._put(pod)
            service = {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": f"{meta['name']}-{worker_type}".lower(),
                    "namespace": meta["namespace"],
                    "labels": labels,
                },
                "spec": {
                    "type": "NodePort",
                    "selector": labels,
                    "ports": [
                        {"port": spec["serviceConfig"]["port"], "targetPort": spec["serviceConfig"]["targetPort"]}
                    ],
                },
            }
            self._put(service)

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        ns = "" if kind in CLUSTER_SCOPED else namespace
        obj = self.objects.get((kind, ns, name))
        return copy.deepcopy(obj) if obj is not None else None

    def list_objects(self, api_version: str, kind: str, namespace: str, selector: str) -> list[dict[str, Any]]:
        ns = "" if kind in CLUSTER_SCOPED else namespace
        return [
            copy.deepcopy(o)
            for (k, n, _), o in sorted(self.objects.items())
            if k == kind and (n == ns or (not ns and kind not in CLUSTER_SCOPED)) and matches(o, selector)
        ]

    def delete_named(self, api_version: str, kind: str, namespace: str, name: str) -> bool:
        ns = "" if kind in CLUSTER_SCOPED else namespace
        obj = self.objects.pop((kind, ns, name), None)
        if obj is None:
            return False
        if kind == "Deployment":  # garbage collection through the ReplicaSet's owner references
            sel = obj["spec"]["selector"]["matchLabels"]
            for key in [
                k
                for k, o in self.objects.items()
                if k[0] == "Pod" and k[1] == ns and matches(o, ",".join(f"{a}={b}" for a, b in sel.items()))
            ]:
                del self.objects[key]
        if kind == "Namespace":
            for key in [k for k in self.objects if k[1] == name]:
                del self.objects[key]
        return True

    # -- views for tests ---------------------------------------------------------------------------
    def names(self, kind: str, namespace: str = "") -> set[str]:
        return {k[2] for k in self.objects if k[0] == kind and k[1] == namespace}
