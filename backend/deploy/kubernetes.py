"""The Kubernetes deployer: workloads rendered (native or sedna) and server-side applied; readiness from pods."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from backend.deploy.base import Deployer, InstanceStatus
from backend.deploy.kube_api import KINDS, KubeApi
from backend.deploy.kube_render import (
    COMPONENT_LABEL,
    NODE_LABEL,
    SELECTOR,
    SERVICE_LABEL,
    WORKLOAD_LABEL,
    render,
    topology_configmap,
    topology_for,
)
from backend.deploy.kube_topology import KubernetesTopology, node_specs
from backend.templates import Template
from common.errors import ConfigError
from common.topology import NodeSpec, Topology
from common.workload import Workload

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "default", "kubeedge", "sedna"})


def check_namespace(namespace: str) -> str:
    if namespace in SYSTEM_NAMESPACES or namespace.startswith("kube-"):
        raise ConfigError(f"namespace {namespace!r} is a system namespace; choose one of Dayu's own")
    return namespace


class KubernetesDeployer(Deployer):
    kind = "kubernetes"

    def __init__(self, api: KubeApi, namespace: str, mode: str) -> None:
        self.api = api
        self.namespace = check_namespace(namespace)
        self.mode = mode
        self._workloads: dict[str, Workload] = {}

    @classmethod
    def from_template(cls, template: Template) -> KubernetesDeployer:
        from backend.deploy.kube_api import ClusterApi

        k8s = template.base.kubernetes
        return cls(ClusterApi(k8s.kubeconfig), template.base.namespace, k8s.mode)

    def nodes(self) -> dict[str, NodeSpec]:
        return node_specs(self.api.nodes())

    def _apply_all(self, workloads: Sequence[Workload]) -> None:
        nodes = self.nodes()
        unknown = sorted({w.node for w in workloads if w.node not in nodes})
        if unknown:
            raise ConfigError(f"workloads placed on nodes the cluster does not have: {unknown}")
        everything = list(self._workloads.values())
        # The topology lists every workload, so it is applied first; pods mount it at start.
        self.api.apply(topology_configmap(topology_for(everything, nodes, [], self.namespace), self.namespace))
        for obj in render(workloads, nodes, self.mode, self.namespace):
            self.api.apply(obj)

    async def apply(self, workloads: Sequence[Workload]) -> None:
        for w in workloads:
            self._workloads[w.name] = w
        await asyncio.to_thread(self._apply_all, list(workloads))

    def _delete(self, selector: str) -> None:
        for api_version, kind in KINDS:
            if kind == "ConfigMap" and selector != SELECTOR:
                continue  # the topology is shared; it goes with everything else
            self.api.delete(api_version, kind, self.namespace, selector)

    async def remove(self, names: Sequence[str]) -> None:
        for name in names:
            self._workloads.pop(name, None)
            await asyncio.to_thread(self._delete, f"{SELECTOR},{WORKLOAD_LABEL}={name}")

    async def remove_all(self) -> None:
        self._workloads.clear()
        await asyncio.to_thread(self._delete, SELECTOR)

    async def status(self) -> list[InstanceStatus]:
        pods = await asyncio.to_thread(self.api.pods, self.namespace, SELECTOR)
        return [instance(p) for p in pods]

    def topology(self) -> Topology | None:
        return KubernetesTopology(self.api, self.namespace)


def instance(pod: dict[str, Any]) -> InstanceStatus:
    meta, status = pod["metadata"], pod.get("status") or {}
    pod_labels = meta.get("labels") or {}
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    waiting = [
        f"{c['state']['waiting'].get('reason', '')}: {c['state']['waiting'].get('message', '')}".strip(": ")
        for c in status.get("container_statuses") or status.get("containerStatuses") or []
        if (c.get("state") or {}).get("waiting")
    ]
    started = status.get("start_time") or status.get("startTime")
    if isinstance(started, str):
        started = datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp()
    elif isinstance(started, datetime):
        started = started.timestamp()
    phase = str(status.get("phase", "Unknown")).lower()
    return InstanceStatus(
        name=pod_labels.get(WORKLOAD_LABEL, meta["name"]),
        component=pod_labels.get(COMPONENT_LABEL, "unknown"),
        node=pod_labels.get(NODE_LABEL, "unknown"),
        service=pod_labels.get(SERVICE_LABEL),
        ready=conditions.get("Ready") == "True",
        phase="failed" if phase == "failed" else phase,
        started_at=started if isinstance(started, float) else None,
        message="; ".join(waiting),
    )
