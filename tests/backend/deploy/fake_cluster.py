"""An in-memory stand-in for a Kubernetes API server and the controllers Dayu relies on (no API server can
run here). It behaves as the API server documents and as the dayu-sedna controller's source does, not as
Dayu's code assumes:

- objects by (kind, namespace, name); label selectors with ``k=v`` and ``k`` (existence) terms;
  a Namespace gets the label ``kubernetes.io/metadata.name``;
- a Deployment gets one pod made from its template (the Deployment controller); deleting the Deployment
  deletes it; a NodePort Service gets a node port; deleting a Namespace deletes everything in it;
- the garbage collector deletes an object whose owner reference names a deleted owner's kind and uid, and
  only then (an owner reference with a kind no API serves is never resolved);
- a deleted pod stays, with ``deletionTimestamp`` set, for ``terminating_reads`` more reads (its grace period);
- a custom resource can only be applied once its CRD is established, and is stored *pruned* by that CRD's
  schema (``backend/deploy/crd_schema.py``); applying a CRD establishes it (unless ``crd_forbidden``: then
  the apply is refused as a 403 would be);
- the dayu-sedna controller (``sedna_controller``) on the first sync of a JointMultiEdgeService, as its source
  does it (``backend/deploy/sedna.py`` tells the whole story): a Deployment ``<cr>-cloudworker-<5 random>``,
  then the Service ``lower(<cr>-<pos>)`` owned by the kind ``JointMultiEdge`` (creating it fails if it
  exists, and then no edge worker is made), then ``<cr>-edgeworker-<5 random>`` per edge worker; the
  template's containers get the controller's variables appended; the resource ends ``Failed``. Nothing is
  ever updated or deleted by it.
"""

from __future__ import annotations

import copy
import itertools
import random
import string
from typing import Any

from backend.deploy import crd_schema, sedna
from backend.deploy.kube_api import KubeApi
from common.errors import Unavailable

CLUSTER_SCOPED = {"Node", "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
LC_SERVER = "http://localhost:9100"
DATA_PATH_PREFIX = "/home/data"


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


class AlreadyExists(Unavailable):
    """A create of a name that exists (the API server's 409 AlreadyExists)."""


class FakeCluster(KubeApi):
    def __init__(
        self, *, sedna_controller: bool = True, crd_forbidden: bool = False, terminating_reads: int = 0, seed: int = 0
    ) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.applied: list[str] = []
        self.ready = True
        self.sedna_controller = sedna_controller
        self.crd_forbidden = crd_forbidden
        self.terminating_reads = terminating_reads
        self.controller_errors: list[str] = []
        self._terminating: dict[tuple[str, str, str], int] = {}
        self._ids = itertools.count(1)
        self._random = random.Random(seed)
        for n in cluster_nodes():
            self.objects[("Node", "", n["metadata"]["name"])] = n

    # -- the API server ------------------------------------------------------------------------
    def _key(self, kind: str, namespace: str, name: str) -> tuple[str, str, str]:
        return (kind, "" if kind in CLUSTER_SCOPED else namespace, name)

    def _put(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        meta.setdefault("uid", f"uid-{next(self._ids)}")
        meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        self.objects[self._key(obj["kind"], meta.get("namespace", ""), meta["name"])] = obj

    def create(self, obj: dict[str, Any]) -> None:
        """A POST: refused when the name exists."""
        key = self._key(obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if key in self.objects:
            raise AlreadyExists(f'{obj["kind"]} "{key[2]}" already exists')
        self._put(obj)
        if obj["kind"] == "Deployment":
            self._deployment_controller(obj)

    def _crd_for(self, kind: str) -> dict[str, Any] | None:
        for (k, _, _), obj in self.objects.items():
            if k == "CustomResourceDefinition" and obj["spec"]["names"]["kind"] == kind:
                return obj
        return None

    def crd_established(self, name: str = sedna.CRD_NAME) -> bool:
        return sedna.established(self.objects.get(("CustomResourceDefinition", "", name)))

    def _pod(self, name: str, namespace: str, template: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any]:
        ready = "True" if self.ready else "False"
        waiting = [] if self.ready else [{"state": {"waiting": {"reason": "ImagePullBackOff", "message": "no image"}}}]
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                "ownerReferences": [
                    {"kind": "Deployment", "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"]}
                ],
            },
            "spec": copy.deepcopy(template["spec"]),
            "status": {
                "phase": "Running" if self.ready else "Pending",
                "conditions": [{"type": "Ready", "status": ready}],
                "startTime": "2026-01-01T00:00:00Z",
                "containerStatuses": waiting,
            },
        }

    def _deployment_controller(self, deployment: dict[str, Any]) -> None:
        meta = deployment["metadata"]
        suffix = "".join(self._random.choices(string.ascii_lowercase + string.digits, k=5))
        template = deployment["spec"]["template"]
        pod = self._pod(f"{meta['name']}-7d4b9c-{suffix}", meta["namespace"], template, deployment)
        self._put(pod)

    # -- KubeApi -------------------------------------------------------------------------------
    def apply(self, obj: dict[str, Any]) -> None:
        obj = copy.deepcopy(obj)
        kind, meta = obj["kind"], obj["metadata"]
        key = self._key(kind, meta.get("namespace", ""), meta["name"])
        existing = self.objects.get(key)
        if kind == "CustomResourceDefinition":
            if self.crd_forbidden:
                raise Unavailable(f"cannot apply {kind} {meta['name']!r}: 403 Forbidden")
            obj["status"] = {"conditions": [{"type": "Established", "status": "True"}]}
        crd = self._crd_for(kind) if "." in obj["apiVersion"].split("/")[0] else None
        if crd is not None:
            obj, _ = crd_schema.prune(obj, crd_schema.version_schema(crd, obj["apiVersion"].split("/")[1]))
            meta = obj["metadata"]
        elif kind in (sedna.KIND, "RuntimeService"):
            raise Unavailable(f"cannot apply {kind} {meta['name']!r}: the cluster does not know {obj['apiVersion']}")
        if kind == "Namespace":  # the API server labels every namespace with its name (since 1.21)
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        if kind == "Service" and obj["spec"].get("type") == "NodePort":
            obj["spec"]["ports"] = [{**p, "nodePort": 30000 + i} for i, p in enumerate(obj["spec"]["ports"])]
        if existing is not None:
            meta["uid"] = existing["metadata"]["uid"]
            meta["creationTimestamp"] = existing["metadata"].get("creationTimestamp")
            if "status" in existing and kind != "CustomResourceDefinition":
                obj["status"] = existing["status"]  # apply does not write the status subresource
        self._put(obj)
        self.applied.append(f"{kind}/{meta['name']}")
        if kind == "Deployment" and existing is None:
            self._deployment_controller(obj)
        if kind == sedna.KIND and existing is None and self.sedna_controller:
            self._jmes_controller(obj)

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        obj = self.objects.get(self._key(kind, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def list_objects(self, api_version: str, kind: str, namespace: str, selector: str) -> list[dict[str, Any]]:
        if kind == "Pod":
            self._tick()
        ns = "" if kind in CLUSTER_SCOPED else namespace
        return [
            copy.deepcopy(o)
            for (k, n, _), o in sorted(self.objects.items())
            if k == kind and (n == ns or (not ns and kind not in CLUSTER_SCOPED)) and matches(o, selector)
        ]

    def delete_named(self, api_version: str, kind: str, namespace: str, name: str) -> bool:
        key = self._key(kind, namespace, name)
        obj = self.objects.get(key)
        if obj is None:
            return False
        if obj["metadata"].get("deletionTimestamp"):
            return True  # already terminating: the API server answers as for the first delete
        if kind == "Pod" and self.terminating_reads:
            obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:01Z"
            self._terminating[key] = self.terminating_reads
        else:
            del self.objects[key]
        if kind == "Namespace":
            for k in [k for k in self.objects if k[1] == name]:
                del self.objects[k]
        self._collect_garbage(kind, obj["metadata"]["uid"])
        return True

    # -- controllers ---------------------------------------------------------------------------
    def _tick(self) -> None:
        """Terminating pods finish their grace period, one read at a time."""
        for key in list(self._terminating):
            self._terminating[key] -= 1
            if self._terminating[key] <= 0:
                del self._terminating[key]
                self.objects.pop(key, None)

    def _collect_garbage(self, kind: str, uid: str) -> None:
        for (k, ns, name), obj in list(self.objects.items()):
            refs = obj["metadata"].get("ownerReferences") or []
            if any(r.get("kind") == kind and r.get("uid") == uid for r in refs):
                self.delete_named("", k, ns, name)

    def _jmes_controller(self, cr: dict[str, Any]) -> None:
        """The first sync of a JointMultiEdgeService: create the workers once, then (second sync, no pod carries
        the ``uid`` label it looks for) mark it Failed."""
        meta, spec = cr["metadata"], cr["spec"]
        ns, name = meta["namespace"], meta["name"]
        conditions: list[dict[str, str]] = []
        try:
            if spec.get("cloudWorker"):
                self._jmes_worker(cr, spec["cloudWorker"], "cloudworker", edge=False)
            config = spec.get("serviceConfig") or {}
            if config:
                self._jmes_service(cr, config)
            for worker in spec.get("edgeWorker") or []:
                self._jmes_worker(cr, worker, "edgeworker", edge=True)
            conditions.append({"type": "Running", "status": "True"})
        except AlreadyExists as exc:
            self.controller_errors.append(f"{ns}/{name}: {exc.message}")
            conditions.append({"type": "Failed", "status": "True", "message": exc.message})
        else:
            conditions.append({"type": "Failed", "status": "True", "reason": "workerFailed"})
        cr["status"] = {"startTime": "2026-01-01T00:00:00Z", "active": 0, "failed": 2, "conditions": conditions}

    def _jmes_worker(self, cr: dict[str, Any], worker: dict[str, Any], kind: str, *, edge: bool) -> None:
        meta = cr["metadata"]
        template = copy.deepcopy(worker["template"])
        node = template["spec"].get("nodeName", "")
        labels = (template.setdefault("metadata", {}).get("labels")) or {}
        labels.update({sedna.HOSTNAME_LABEL: node, sedna.NAME_LABEL: meta["name"]})
        template["metadata"]["labels"] = labels
        env = {
            "NAMESPACE": meta["namespace"],
            "SERVICE_NAME": meta["name"],
            "LOG_LEVEL": (worker.get("logLevel") or {}).get("level", ""),
            "NODE_NAME": node,
            "DATA_PATH_PREFIX": DATA_PATH_PREFIX,
        }
        if edge:
            env["LC_SERVER"] = LC_SERVER
        for container in template["spec"]["containers"]:
            container["env"] = [*(container.get("env") or []), *({"name": k, "value": v} for k, v in env.items())]
        suffix = "".join(self._random.choices(string.ascii_lowercase + string.digits, k=5))
        self.create(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": f"{meta['name']}-{kind}-{suffix}", "namespace": meta["namespace"]},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {sedna.HOSTNAME_LABEL: node, sedna.NAME_LABEL: meta["name"]}},
                    "template": template,
                },
            }
        )

    def _jmes_service(self, cr: dict[str, Any], config: dict[str, Any]) -> None:
        meta = cr["metadata"]
        pos = config.get("pos", "")
        self.create(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": f"{meta['name']}-{pos}".lower(),
                    "namespace": meta["namespace"],
                    "labels": {
                        sedna.NAME_LABEL: meta["name"],
                        sedna.UID_LABEL: meta["uid"],
                        sedna.WORKER_TYPE_LABEL: pos.lower(),
                        sedna.PROXY_NAME_LABEL: "",
                    },
                    "ownerReferences": [
                        {
                            "apiVersion": sedna.API_VERSION,
                            "kind": sedna.OWNER_KIND,
                            "name": meta["name"],
                            "uid": meta["uid"],
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "spec": {
                    "type": "NodePort",
                    "selector": {sedna.NAME_LABEL: meta["name"]},
                    "ports": [
                        {
                            "name": sedna.SERVICE_PORT_NAME,
                            "protocol": "TCP",
                            "port": config["port"],
                            "targetPort": config["port"],
                            "nodePort": 31000 + next(self._ids) % 1000,
                        }
                    ],
                },
            }
        )

    # -- views for tests ---------------------------------------------------------------------------
    def names(self, kind: str, namespace: str = "") -> set[str]:
        return {k[2] for k in self.objects if k[0] == kind and k[1] == namespace}
