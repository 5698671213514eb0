"""The Kubernetes deployer: workloads rendered (native or sedna) and server-side applied; readiness from pods.

Everything it creates carries the install's labels (``dayu.io/install`` = the namespace, ``dayu.io/plane:
runtime``); removal selects by them, so the control plane and other installs are never touched. In sedna
mode it follows the dayu-sedna controller as it is (``backend/deploy/sedna.py``): the controller's pods are
found by the label it sets itself and mapped to the resource (which carries Dayu's labels); removal deletes
the resource, its Service and the controller's Deployments and waits until they are gone, since nothing
else would delete them and a left-over Service keeps the next resource of that name from getting its edge
workers; a changed workload is replaced (removed, then created) rather than patched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from backend.deploy import gpus, kube_revisions, sedna
from backend.deploy import runtime_service as rts
from backend.deploy.base import Deployer, InstanceStatus
from backend.deploy.kube_api import KubeApi
from backend.deploy.kube_render import (
    COMPONENT_LABEL,
    NODE_LABEL,
    PORT_ANNOTATION,
    SERVICE_LABEL,
    SPEC_HASH_ANNOTATION,
    TOPOLOGY_CONFIGMAP,
    WORKLOAD_LABEL,
    Network,
    assign_host_ports,
    render,
    runtime_selector,
    topology_configmap,
    topology_for,
    workload_selector,
)
from backend.deploy.kube_topology import KubernetesTopology, node_addresses, node_specs
from backend.templates import GpuSettings, Resources, Template
from common.errors import ConfigError, Unavailable
from common.topology import NodeSpec, Topology
from common.workload import Workload

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "default", "kubeedge", "sedna"})
NATIVE_KINDS = (("apps/v1", "Deployment"), ("v1", "Service"))
CRD_TIMEOUT_S = 30.0
RUNTIME_ID_LABEL = "dayu.io/runtime-id"
"""Set by the RuntimeService controller on its pods: the RuntimeService's name."""
REMOVAL_TIMEOUT_S = 120.0
"""Pods get a grace period (30 s by default) to stop before they are gone."""
NO_POD_GRACE_S = 20.0
"""A resource without any pod after this long is reported as not handled by the controller."""


def check_namespace(namespace: str) -> str:
    if namespace in SYSTEM_NAMESPACES or namespace.startswith("kube-"):
        raise ConfigError(f"namespace {namespace!r} is a system namespace; choose one of Dayu's own")
    return namespace


def ensure_crd(api: KubeApi, mode: str = "sedna", timeout: float = CRD_TIMEOUT_S) -> None:
    """Apply the mode's CRD (the controller's own, vendored) when the cluster lacks it; wait until established."""
    crd = rts.crd() if mode == "runtime-service" else sedna.crd()
    name, kind = crd["metadata"]["name"], crd["spec"]["names"]["kind"]
    if sedna.established(api.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", name)):
        return
    try:
        api.apply(crd)
    except Unavailable as exc:
        raise Unavailable(
            f"the {kind} CRD is not installed and cannot be installed ({exc.message}); install the "
            f"dayu-sedna controller, or apply backend/deploy/crds/sedna.io_{crd['spec']['names']['plural']}.yaml, "
            "or use kubernetes.mode: native"
        ) from None
    deadline = time.monotonic() + timeout
    while not sedna.established(api.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", name)):
        if time.monotonic() > deadline:
            raise Unavailable(f"the {kind} CRD is not established after {timeout:.0f}s")
        time.sleep(0.5)


class KubernetesDeployer(Deployer):
    kind = "kubernetes"

    def __init__(
        self,
        api: KubeApi,
        namespace: str,
        mode: str,
        network: Network = "service",
        gpu: GpuSettings | None = None,
        resources: Mapping[str, Resources] | None = None,
    ) -> None:
        self.api = api
        self.namespace = check_namespace(namespace)
        self.install = self.namespace
        self.mode = mode
        self.network: Network = network
        self._workloads: dict[str, Workload] = {}
        self._crd_ready = False
        self.gpu = gpu or GpuSettings()
        self.resources = dict(resources or {})
        self.removal_timeout = REMOVAL_TIMEOUT_S
        self.poll_interval = 1.0

    @classmethod
    def from_template(cls, template: Template) -> KubernetesDeployer:
        from backend.deploy.kube_api import ClusterApi

        k8s = template.base.kubernetes
        api = ClusterApi(k8s.kubeconfig)
        return cls(api, template.base.namespace, k8s.mode, k8s.network, k8s.gpu, k8s.resources)

    def nodes(self) -> dict[str, NodeSpec]:
        return node_specs(self.api.nodes())

    # -- apply ---------------------------------------------------------------------------------
    def _used_ports(self, skip: set[str]) -> dict[str, set[int]]:
        """Ports taken per node by this install's workloads already deployed (host networking)."""
        used: dict[str, set[int]] = {}
        kind = {"sedna": (sedna.API_VERSION, sedna.KIND), "runtime-service": (rts.API_VERSION, rts.KIND)}.get(
            self.mode, NATIVE_KINDS[0]
        )
        for obj in self.api.list_objects(*kind, self.namespace, runtime_selector(self.install)):
            meta = obj["metadata"]
            obj_labels = meta.get("labels") or {}
            port = (meta.get("annotations") or {}).get(PORT_ANNOTATION)
            if obj_labels.get(WORKLOAD_LABEL) in skip or not port:
                continue
            used.setdefault(obj_labels.get(NODE_LABEL, ""), set()).add(int(port))
        return used

    def _apply_all(self, workloads: Sequence[Workload]) -> list[Workload]:
        nodes = self.nodes()
        unknown = sorted({w.node for w in workloads if w.node not in nodes})
        if unknown:
            raise ConfigError(f"workloads placed on nodes the cluster does not have: {unknown}")
        if self.network == "host":
            workloads = assign_host_ports(workloads, self._used_ports({w.name for w in workloads}))
        after = {**self._workloads, **{w.name: w for w in workloads}}
        gpus.check(list(after.values()), gpus.node_gpus(self.api.nodes(), self.gpu), self.gpu)
        if self.mode in ("sedna", "runtime-service") and not self._crd_ready:
            ensure_crd(self.api, self.mode)
            self._crd_ready = True
        for w in workloads:
            self._workloads[w.name] = w
        everything = list(self._workloads.values())
        addresses = node_addresses(self.api.nodes()) if self.network == "host" else {}
        revision, names, objs = 0, {}, []
        if self.mode == "runtime-service":
            existing = kube_revisions.resources(self.api, self.namespace, runtime_selector(self.install))
            revision = kube_revisions.next_revision(existing)
            names = kube_revisions.serving_names(existing)
            for obj in render(workloads, nodes, self.mode, self.namespace, install=self.install,
                              network=self.network, revision=revision, resources=self.resources):  # fmt: skip
                workload = obj["metadata"]["labels"][WORKLOAD_LABEL]
                same = kube_revisions.unchanged(existing.get(workload, []), obj)
                names[workload] = (same or obj)["metadata"]["name"]
                if same is None:
                    objs.append(obj)
        else:
            objs = render(
                workloads,
                nodes,
                self.mode,
                self.namespace,
                install=self.install,
                network=self.network,
                resources=self.resources,
            )
        model = topology_for(
            everything,
            nodes,
            [],
            self.namespace,
            mode=self.mode,
            network=self.network,
            addresses=addresses,
            runtime_names=names,
        )
        # The topology lists every workload, so it is applied first; pods mount it at start.
        self.api.apply(topology_configmap(model, self.install, self.namespace))
        for obj in objs:
            if self.mode == "sedna":
                self._apply_sedna(obj)
            else:
                self.api.apply(obj)
        return list(workloads)

    def _apply_sedna(self, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        current = self.api.get(sedna.API_VERSION, sedna.KIND, self.namespace, name)
        if current is not None:
            wanted = obj["metadata"]["annotations"][SPEC_HASH_ANNOTATION]
            if (current["metadata"].get("annotations") or {}).get(SPEC_HASH_ANNOTATION) == wanted:
                return  # unchanged: its workers run what it says
        # The controller creates once and never deletes: a changed resource, or what an earlier resource of
        # this name left behind, goes first (a left-over Service would keep the edge workers from starting).
        self._delete_resources([name])
        self.api.apply(obj)

    async def apply(self, workloads: Sequence[Workload]) -> None:
        await asyncio.to_thread(self._apply_all, list(workloads))

    # -- removal -------------------------------------------------------------------------------
    def _made_for(self, names: set[str]) -> list[tuple[str, str, str]]:
        """(api version, kind, name) of every object the controller made for these resources that exists."""
        found: list[tuple[str, str, str]] = []
        for dep in self.api.list_objects("apps/v1", "Deployment", self.namespace, ""):
            if any(sedna.made_by_controller(dep, n) for n in names):
                found.append(("apps/v1", "Deployment", dep["metadata"]["name"]))
        for svc in self.api.services(self.namespace, sedna.NAME_LABEL):
            svc_labels = svc["metadata"].get("labels") or {}
            if svc_labels.get(sedna.NAME_LABEL) in names:
                found.append(("v1", "Service", svc["metadata"]["name"]))
        return found

    def _delete_resources(self, names: Sequence[str]) -> None:
        """JointMultiEdgeServices and what the controller made for them; returns once all of it is gone."""
        wanted = set(names)
        for name in wanted:
            self.api.delete_named(sedna.API_VERSION, sedna.KIND, self.namespace, name)
        for api_version, kind, name in self._made_for(wanted):
            self.api.delete_named(api_version, kind, self.namespace, name)

        def left() -> list[str]:
            out = [f"{sedna.KIND}/{n}" for n in sorted(wanted) if self._exists(n)]
            out += [f"{kind}/{name}" for _, kind, name in self._made_for(wanted)]
            return out + [f"Pod/{p['metadata']['name']}" for p in self._worker_pods() if self._pod_of(p) in wanted]

        self._wait_gone(left)

    def _wait_gone(self, left: Callable[[], list[str]]) -> None:
        """Returns once ``left()`` names nothing; Unavailable naming what is still there after the timeout."""
        deadline = time.monotonic() + self.removal_timeout
        while remaining := left():
            if time.monotonic() >= deadline:
                raise Unavailable(
                    f"still there {self.removal_timeout:.0f}s after deletion: {', '.join(remaining)}",
                    detail={"left": remaining},
                )
            time.sleep(self.poll_interval)

    def _exists(self, name: str) -> bool:
        return self.api.get(sedna.API_VERSION, sedna.KIND, self.namespace, name) is not None

    def _worker_pods(self) -> list[dict[str, Any]]:
        return self.api.pods(self.namespace, sedna.NAME_LABEL)

    @staticmethod
    def _pod_of(pod: dict[str, Any]) -> str:
        return str((pod["metadata"].get("labels") or {}).get(sedna.NAME_LABEL, ""))

    def _delete_runtime_services(self, names: Sequence[str]) -> None:
        """RuntimeServices (their Deployment and Service go with them); returns once they and their pods are gone."""
        wanted = set(names)
        for name in wanted:
            self.api.delete_named(rts.API_VERSION, rts.KIND, self.namespace, name)

        def left() -> list[str]:
            out = [
                f"{rts.KIND}/{n}" for n in sorted(wanted) if self.api.get(rts.API_VERSION, rts.KIND, self.namespace, n)
            ]
            return out + [
                f"Pod/{p['metadata']['name']}"
                for p in self.api.pods(self.namespace, runtime_selector(self.install))
                if (p["metadata"].get("labels") or {}).get(RUNTIME_ID_LABEL) in wanted
            ]

        self._wait_gone(left)

    def _delete(self, selector: str) -> None:
        if self.mode == "runtime-service":
            found = self.api.list_objects(rts.API_VERSION, rts.KIND, self.namespace, selector)
            self._delete_runtime_services([o["metadata"]["name"] for o in found])
        if self.mode == "sedna":
            found = self.api.list_objects(sedna.API_VERSION, sedna.KIND, self.namespace, selector)
            self._delete_resources([o["metadata"]["name"] for o in found])
        for api_version, kind in NATIVE_KINDS:
            self.api.delete(api_version, kind, self.namespace, selector)

    async def remove(self, names: Sequence[str]) -> None:
        for name in names:
            self._workloads.pop(name, None)
            await asyncio.to_thread(self._delete, workload_selector(self.install, name))

    async def remove_all(self) -> None:
        self._workloads.clear()
        await asyncio.to_thread(self._delete, runtime_selector(self.install))
        await asyncio.to_thread(self.api.delete_named, "v1", "ConfigMap", self.namespace, TOPOLOGY_CONFIGMAP)

    # -- status --------------------------------------------------------------------------------
    def _status(self) -> list[InstanceStatus]:
        if self.mode == "runtime-service":
            out, old = kube_revisions.statuses(self.api, self.namespace, self.install)
            for name in old:  # a newer revision is Ready: the older one has done its job
                self.api.delete_named(rts.API_VERSION, rts.KIND, self.namespace, name)
            return out
        if self.mode != "sedna":
            return [
                instance(p, p["metadata"].get("labels") or {})
                for p in self.api.pods(self.namespace, runtime_selector(self.install))
                if not deleting(p)
            ]
        # Not the resource's status: the controller marks it Failed on its second sync whatever runs.
        resources = {
            o["metadata"]["name"]: o
            for o in self.api.list_objects(
                sedna.API_VERSION, sedna.KIND, self.namespace, runtime_selector(self.install)
            )
        }
        out, seen = [], set()
        for pod in self._worker_pods():
            resource = resources.get(self._pod_of(pod))
            if resource is not None and not deleting(pod):
                seen.add(resource["metadata"]["name"])
                out.append(instance(pod, resource["metadata"].get("labels") or {}))
        for name, resource in resources.items():
            if name not in seen:
                out.append(no_pod(resource))
        return out

    async def status(self) -> list[InstanceStatus]:
        return await asyncio.to_thread(self._status)

    def topology(self) -> Topology | None:
        return KubernetesTopology(self.api, self.namespace, self.mode, self.network)


def _time(value: Any) -> float | None:
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    if isinstance(value, datetime):
        return value.timestamp()
    return None


def deleting(obj: dict[str, Any]) -> bool:
    """Being deleted (terminating pods still match their selectors for their grace period)."""
    meta = obj["metadata"]
    return bool(meta.get("deletion_timestamp") or meta.get("deletionTimestamp"))


def no_pod(resource: dict[str, Any]) -> InstanceStatus:
    meta = resource["metadata"]
    obj_labels = meta.get("labels") or {}
    created = _time(meta.get("creation_timestamp") or meta.get("creationTimestamp"))
    late = created is not None and time.time() - created > NO_POD_GRACE_S
    message = (
        f"no pod created for {sedna.KIND} {meta['name']!r}: is the dayu-sedna controller running "
        f"(Deployment {sedna.CONTROLLER_DEPLOYMENT} in namespace {sedna.CONTROLLER_NAMESPACE})?"
        if late
        else "waiting for the controller to create its pod"
    )
    return InstanceStatus(
        name=obj_labels.get(WORKLOAD_LABEL, meta["name"]),
        component=obj_labels.get(COMPONENT_LABEL, "unknown"),
        node=obj_labels.get(NODE_LABEL, "unknown"),
        service=obj_labels.get(SERVICE_LABEL),
        phase="pending",
        message=message,
    )


def instance(pod: dict[str, Any], owner_labels: dict[str, str]) -> InstanceStatus:
    """A pod's status under the labels of the workload it runs (the pod's own in native mode, the
    resource's in sedna mode, whose pods carry only the controller's labels)."""
    status = pod.get("status") or {}
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    waiting = [
        f"{c['state']['waiting'].get('reason', '')}: {c['state']['waiting'].get('message', '')}".strip(": ")
        for c in status.get("container_statuses") or status.get("containerStatuses") or []
        if (c.get("state") or {}).get("waiting")
    ]
    phase = str(status.get("phase", "Unknown")).lower()
    return InstanceStatus(
        name=owner_labels.get(WORKLOAD_LABEL, pod["metadata"]["name"]),
        component=owner_labels.get(COMPONENT_LABEL, "unknown"),
        node=owner_labels.get(NODE_LABEL, "unknown"),
        service=owner_labels.get(SERVICE_LABEL),
        ready=conditions.get("Ready") == "True",
        phase="failed" if phase == "failed" else phase,
        started_at=_time(status.get("start_time") or status.get("startTime")),
        message="; ".join(waiting),
    )
