"""Runtime-service mode of the Kubernetes deployer: RuntimeServices by workload and revision.

A workload whose spec is unchanged keeps its RuntimeService. A new or changed one gets a RuntimeService of
a new revision (the controller refuses changes to an existing one); the older revisions of that workload
stay, serving, until the new one is ``Ready``, and are deleted then (on the next status read). Removal
deletes every revision; the Deployment and Service go with each (owner references), and the removal waits
until the resources and their pods are gone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from backend.deploy import runtime_service as rts
from backend.deploy.base import InstanceStatus
from backend.deploy.kube_api import KubeApi
from backend.deploy.kube_render import (
    COMPONENT_LABEL,
    NODE_LABEL,
    SERVICE_LABEL,
    SPEC_HASH_ANNOTATION,
    WORKLOAD_LABEL,
    runtime_selector,
)


def resources(api: KubeApi, namespace: str, selector: str) -> dict[str, list[dict[str, Any]]]:
    """The install's RuntimeServices by workload, newest revision first."""
    out: dict[str, list[dict[str, Any]]] = {}
    for obj in api.list_objects(rts.API_VERSION, rts.KIND, namespace, selector):
        workload = (obj["metadata"].get("labels") or {}).get(WORKLOAD_LABEL)
        if workload:
            out.setdefault(workload, []).append(obj)
    for objs in out.values():
        objs.sort(key=rts.revision, reverse=True)
    return out


def next_revision(existing: Mapping[str, Sequence[dict[str, Any]]]) -> int:
    return max((rts.revision(o) for objs in existing.values() for o in objs), default=0) + 1


def unchanged(existing: Sequence[dict[str, Any]], wanted: dict[str, Any]) -> dict[str, Any] | None:
    """The newest revision already running what ``wanted`` runs, if it is the newest."""
    if not existing:
        return None
    newest = existing[0]
    current = (newest["metadata"].get("annotations") or {}).get(SPEC_HASH_ANNOTATION)
    return newest if current == wanted["metadata"]["annotations"][SPEC_HASH_ANNOTATION] else None


def current(objs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The revision that serves a workload: the newest that is Ready, else the newest."""
    return next((o for o in objs if rts.ready(o)), objs[0])


def superseded(objs: Sequence[dict[str, Any]]) -> list[str]:
    """Older revisions of a workload whose newest revision is Ready: they may go."""
    if not objs or not rts.ready(objs[0]):
        return []
    return [o["metadata"]["name"] for o in objs[1:]]


def instance(obj: dict[str, Any]) -> InstanceStatus:
    """A workload's status from its newest RuntimeService's conditions (the controller's readiness signal)."""
    obj_labels = obj["metadata"].get("labels") or {}
    is_ready = rts.ready(obj)
    refused, message = (False, "") if is_ready else rts.why_not_ready(obj)
    return InstanceStatus(
        name=obj_labels.get(WORKLOAD_LABEL, obj["metadata"]["name"]),
        component=obj_labels.get(COMPONENT_LABEL, "unknown"),
        node=obj_labels.get(NODE_LABEL, obj["spec"].get("targetNode", "unknown")),
        service=obj_labels.get(SERVICE_LABEL),
        ready=is_ready,
        phase="running" if is_ready else ("failed" if refused else "pending"),
        message=message,
    )


def statuses(api: KubeApi, namespace: str, install: str) -> tuple[list[InstanceStatus], list[str]]:
    """Every workload's status, and the names of superseded revisions to delete."""
    by_workload = resources(api, namespace, runtime_selector(install))
    out = [instance(objs[0]) for objs in by_workload.values()]
    old = [name for objs in by_workload.values() for name in superseded(objs)]
    return out, old


def serving_names(by_workload: Mapping[str, Sequence[dict[str, Any]]]) -> dict[str, str]:
    return {w: current(objs)["metadata"]["name"] for w, objs in by_workload.items() if objs}
