"""The dayu-sedna ``RuntimeService`` (short name ``rts``), in one place: naming, rendering, reading its status.

Read from dayu-sedna's ``docs/runtime-service.md`` and ``pkg/apis/sedna/v1alpha1/runtimeservice_types.go``:
one immutable RuntimeService per worker, target node and deployment revision; the controller reconciles,
under the same name, one single-replica ``Recreate`` Deployment pinned to ``targetNode`` and (with
``spec.endpoint``) one ClusterIP Service with the TCP port ``runtime``, both owned by the RuntimeService (the
garbage collector removes them with it). It rejects a changed spec of an existing revision, a pod template
that mounts a service-account token, a ``nodeName`` other than ``targetNode``, an endpoint port no container
declares, and caller labels that contradict its own (``dayu.io/component`` among them). Its status is the
readiness signal: the condition ``Ready`` (after ``Activated``, the node's EdgeMesh acknowledgement), and
``status.endpoint.dnsName`` (``<service>.<namespace>.svc.cluster.local``) is where peers reach the worker.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from backend.deploy.crd_schema import load_crd, version_schema

API_VERSION = "sedna.io/v1alpha1"
KIND = "RuntimeService"
SHORT_NAME = "rts"
CRD_NAME = "runtimeservices.sedna.io"
CRD_FILE = Path(__file__).with_name("crds") / "sedna.io_runtimeservices.yaml"
PORT_NAME = "runtime"
CONDITIONS = ("SpecAccepted", "ResourcesReconciled", "NodeReady", "WorkloadReady", "EndpointReady", "Activated")
"""The gates of ``Ready``, in the order a worker passes them."""
CONTROLLER_LABELS = (
    "dayu.io/mesh-managed",
    "dayu.io/install-id",
    "dayu.io/deployment-revision",
    "dayu.io/runtime-id",
    "dayu.io/component",
    "dayu.io/runtime-service-uid",
)
"""Owned by the controller on the Deployment, pod template and Service (a caller's differing value is refused)."""
MAX_NAME = 63


def crd() -> dict[str, Any]:
    return load_crd(CRD_FILE)


def schema() -> dict[str, Any]:
    return version_schema(crd(), "v1alpha1")


def resource_name(workload: str, revision: int) -> str:
    """A DNS-1035 label (the controller refuses any other name): ``<workload>-r<revision>``, shortened with a
    hash of the workload's name when it would exceed 63 characters."""
    base = re.sub(r"[^a-z0-9-]+", "-", workload.lower()).strip("-") or "w"
    if not base[0].isalpha():
        base = f"w-{base}"
    suffix = f"-r{revision}"
    if len(base) + len(suffix) > MAX_NAME or base != workload:
        digest = hashlib.sha1(workload.encode()).hexdigest()[:6]
        base = f"{base[: MAX_NAME - len(suffix) - 7].rstrip('-')}-{digest}"
    return base + suffix


def dns_name(name: str, namespace: str) -> str:
    """The name the controller reports in ``status.endpoint.dnsName`` for a RuntimeService's Service."""
    return f"{name}.{namespace}.svc.cluster.local"


def spec_hash(spec: dict[str, Any]) -> str:
    """What a workload's RuntimeService runs, whatever its revision: equal hashes need no new revision."""
    same = {k: v for k, v in spec.items() if k != "deploymentRevision"}
    return hashlib.sha256(json.dumps(same, sort_keys=True).encode()).hexdigest()[:16]


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c.get("type", ""): c for c in ((obj.get("status") or {}).get("conditions") or [])}


def revision(obj: dict[str, Any]) -> int:
    return int(obj["spec"]["deploymentRevision"])


def ready(obj: dict[str, Any]) -> bool:
    return conditions(obj).get("Ready", {}).get("status") == "True"


def why_not_ready(obj: dict[str, Any]) -> tuple[bool, str]:
    """(refused, message): the first gate that does not hold, as the controller words it."""
    conds = conditions(obj)
    if not conds:
        return False, "waiting for the dayu-sedna controller to accept it"
    for gate in CONDITIONS:
        cond = conds.get(gate)
        if cond is not None and cond.get("status") != "True":
            text = f"{gate}: {cond.get('reason', '')} {cond.get('message', '')}".strip()
            return gate == "SpecAccepted", text
    ready_cond = conds.get("Ready", {})
    return False, f"Ready: {ready_cond.get('reason', 'pending')} {ready_cond.get('message', '')}".strip()


def endpoint_dns(obj: dict[str, Any]) -> str | None:
    endpoint = (obj.get("status") or {}).get("endpoint") or {}
    name = endpoint.get("dnsName")
    return str(name) if name else None
