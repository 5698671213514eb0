"""An in-memory stand-in for a Kubernetes API server and the controllers Dayu relies on (no API server can
run here). It behaves as the API server documents and as the dayu-sedna controller's source does, not as
Dayu's code assumes:

- objects by (kind, namespace, name); label selectors with ``k=v`` and ``k`` (existence) terms;
  a Namespace gets the label ``kubernetes.io/metadata.name``;
- a Deployment gets one pod made from its template (the Deployment controller), replaced when the pod
  template changes (a rollout); deleting the Deployment deletes it; a NodePort Service gets a node port;
  deleting a Namespace deletes everything in it;
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
  ever updated or deleted by it;
- the RuntimeService controller (``sedna_controller``), from dayu-sedna's ``docs/runtime-service.md`` and its
  types and validation: a valid new RuntimeService gets a Deployment and (with ``spec.endpoint``) a ClusterIP
  Service of its name, owned by it, labelled with the six controller-owned ``dayu.io/*`` labels; an invalid
  one, or a changed spec of an existing one, is refused in the condition ``SpecAccepted``; the status is
  recomputed on every read from the pods (``WorkloadReady``, ``EndpointReady``), the node's EdgeMesh
  acknowledgement (``Activated``, held back while ``activation`` is False) and ``Ready``, with
  ``status.endpoint.dnsName``.
"""

from __future__ import annotations

import copy
import itertools
import random
import re
import string
from typing import Any

from backend.deploy import crd_schema, sedna
from backend.deploy import runtime_service as rts
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
        self.activation = True
        self._rts_refused: dict[tuple[str, str, str], str] = {}
        self._rts_acked: set[tuple[str, str, str]] = set()
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
                "annotations": dict((template.get("metadata") or {}).get("annotations") or {}),
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
        elif kind == "Deployment" and existing is not None and existing["spec"]["template"] != obj["spec"]["template"]:
            # a new pod template is a rollout: the old pods go, a pod of the new template comes
            self._collect_garbage("Deployment", meta["uid"])
            self._deployment_controller(obj)
        if kind == sedna.KIND and existing is None and self.sedna_controller:
            self._jmes_controller(obj)
        if kind == rts.KIND and self.sedna_controller:
            self._rts_controller(obj, existing)

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        if kind == rts.KIND:
            self._rts_status()
        obj = self.objects.get(self._key(kind, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def list_objects(self, api_version: str, kind: str, namespace: str, selector: str) -> list[dict[str, Any]]:
        if kind == "Pod":
            self._tick()
        if kind == rts.KIND:
            self._rts_status()
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

    def _rts_controller(self, obj: dict[str, Any], existing: dict[str, Any] | None) -> None:
        key = self._key(rts.KIND, obj["metadata"]["namespace"], obj["metadata"]["name"])
        if existing is not None:
            if existing["spec"] != obj["spec"]:
                self._rts_refused[key] = (
                    "RuntimeService spec and revision are immutable; create a new revision-scoped resource"
                )
            return
        problem = rts_validation(self.objects[key])
        if problem:
            self._rts_refused[key] = problem
            return
        stored = self.objects[key]
        meta, spec = stored["metadata"], stored["spec"]
        identity = {
            "dayu.io/mesh-managed": "true",
            "dayu.io/install-id": spec["installID"],
            "dayu.io/deployment-revision": str(spec["deploymentRevision"]),
            "dayu.io/runtime-id": meta["name"],
            "dayu.io/component": spec["component"],
            "dayu.io/runtime-service-uid": meta["uid"],
        }
        selector = {
            k: identity[k] for k in ("dayu.io/deployment-revision", "dayu.io/runtime-id", "dayu.io/runtime-service-uid")
        }
        owner = [
            {
                "apiVersion": rts.API_VERSION,
                "kind": rts.KIND,
                "name": meta["name"],
                "uid": meta["uid"],
                "controller": True,
            }
        ]
        template = copy.deepcopy(spec["podTemplate"])
        template.setdefault("metadata", {})["labels"] = {**(template["metadata"].get("labels") or {}), **identity}
        template["spec"]["nodeName"] = spec["targetNode"]
        template["spec"]["automountServiceAccountToken"] = False
        self.create(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "labels": identity,
                    "ownerReferences": owner,
                },
                "spec": {
                    "replicas": 1,
                    "strategy": {"type": "Recreate"},
                    "selector": {"matchLabels": selector},
                    "template": template,
                },
            }
        )
        if spec.get("endpoint"):
            port = spec["endpoint"]["port"]
            self.create(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {
                        "name": meta["name"],
                        "namespace": meta["namespace"],
                        "labels": identity,
                        "ownerReferences": owner,
                    },
                    "spec": {
                        "type": "ClusterIP",
                        "selector": selector,
                        "ports": [{"name": rts.PORT_NAME, "protocol": "TCP", "port": port, "targetPort": port}],
                    },
                }
            )

    def _rts_status(self) -> None:
        """What the controller would report now, for every RuntimeService."""
        for key, obj in self.objects.items():
            if key[0] != rts.KIND:
                continue
            ns, name = key[1], key[2]

            def cond(kind: str, ok: bool, reason: str, message: str = "") -> dict[str, str]:
                return {"type": kind, "status": "True" if ok else "False", "reason": reason, "message": message}

            refused = self._rts_refused.get(key)
            if refused:
                obj["status"] = {
                    "conditions": [
                        cond("SpecAccepted", False, "InvalidSpec", refused),
                        cond("Ready", False, "SpecRejected"),
                    ]
                }
                continue
            pods = [
                p
                for (k, n, _), p in self.objects.items()
                if k == "Pod"
                and n == ns
                and (p["metadata"].get("labels") or {}).get("dayu.io/runtime-id") == name
                and not p["metadata"].get("deletionTimestamp")
            ]
            ready_pods = [
                p
                for p in pods
                if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"])
            ]
            service = self.objects.get(("Service", ns, name))
            workload = len(ready_pods) == 1
            endpoint = service is not None and workload
            # An acknowledgement outlives later gaps (the UIDs are unchanged); Ready stays dynamic.
            activated = key in self._rts_acked or (endpoint and self.activation)
            if activated:
                self._rts_acked.add(key)
            status: dict[str, Any] = {
                "observedRevision": obj["spec"]["deploymentRevision"],
                "conditions": [
                    cond("SpecAccepted", True, "Accepted", "runtime specification is valid"),
                    cond("ResourcesReconciled", ("Deployment", ns, name) in self.objects, "Reconciled"),
                    cond("NodeReady", True, "NodeReady"),
                    cond("WorkloadReady", workload, "WorkloadReady" if workload else "WorkloadNotReady"),
                    cond("EndpointReady", endpoint, "EndpointReady" if endpoint else "EndpointNotReady"),
                    cond("Activated", activated, "Activated" if activated else "AwaitingNodeAck"),
                    cond(
                        "Ready", activated and endpoint, "Ready" if activated and endpoint else "ReadinessGatesPending"
                    ),
                ],
            }
            if service is not None:
                status["endpoint"] = {
                    "serviceRef": {"name": name, "uid": service["metadata"]["uid"]},
                    "dnsName": f"{name}.{ns}.svc.cluster.local",
                    "port": service["spec"]["ports"][0]["port"],
                    "readyAddresses": len(ready_pods),
                    "notReadyAddresses": len(pods) - len(ready_pods),
                }
            obj["status"] = status

    # -- views for tests ---------------------------------------------------------------------------
    def names(self, kind: str, namespace: str = "") -> set[str]:
        return {k[2] for k in self.objects if k[0] == kind and k[1] == namespace}


DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def rts_validation(obj: dict[str, Any]) -> str:
    """The RuntimeService controller's checks (its validation.go), worded as it words them; "" when valid."""
    name, spec = obj["metadata"]["name"], obj["spec"]
    pod = spec["podTemplate"]["spec"]
    if not DNS_1035.match(name) or len(name) > 63:
        return f"metadata.name {name!r} must be a DNS-1035 label no longer than 63 characters"
    for field in ("installID", "component"):
        if not spec.get(field) or not LABEL_VALUE.match(spec[field]) or len(spec[field]) > 63:
            return f"spec.{field} {spec.get(field)!r} is not a valid label value"
    if pod.get("nodeName") and pod["nodeName"] != spec["targetNode"]:
        return f"podTemplate nodeName {pod['nodeName']!r} conflicts with targetNode {spec['targetNode']!r}"
    if pod.get("restartPolicy") not in (None, "", "Always"):
        return "podTemplate restartPolicy must be empty or Always"
    if pod.get("automountServiceAccountToken") is True:
        return "podTemplate may not enable service account token automount"
    for volume in pod.get("volumes") or []:
        if any("serviceAccountToken" in src for src in (volume.get("projected") or {}).get("sources") or []):
            return f"podTemplate volume {volume['name']!r} may not project a service account token"
    labels = (spec["podTemplate"].get("metadata") or {}).get("labels") or {}
    own = {
        "dayu.io/component": spec["component"],
        "dayu.io/install-id": spec["installID"],
        "dayu.io/runtime-id": name,
        "dayu.io/deployment-revision": str(spec["deploymentRevision"]),
        "dayu.io/mesh-managed": "true",
    }
    for key, value in own.items():
        if key in labels and labels[key] != value:
            return f"podTemplate label {key!r} conflicts with controller-owned value"
    if spec.get("endpoint"):
        port = spec["endpoint"]["port"]
        declared = [p for c in pod["containers"] for p in c.get("ports") or [] if p.get("protocol", "TCP") == "TCP"]
        if not any(p["containerPort"] == port for p in declared):
            return f"endpoint port {port} is not declared as a TCP container port"
    return ""
