"""What the dayu-sedna controller does with a JointMultiEdgeService (short name ``mulji``), in one place.

Read from the controller's source (dayu-sedna ``pkg/globalmanager/controllers/jointmultiedge``), not from
its documentation. On the first sync of a resource it creates, once and in this order:

1. for a non-empty ``cloudWorker``, a Deployment ``<cr>-cloudworker-<5 random characters>``;
2. when ``serviceConfig`` is set, one NodePort Service ``lower(<cr>-<pos>)`` (port name ``tcp-0``, target
   port = ``serviceConfig.port``) selecting ``jointmultiedge.sedna.io/name=<cr>``, i.e. the cloud *and* every
   edge worker of the resource, labelled ``service.kubernetes.io/service-proxy-name: ""`` so that kube-proxy
   ignores it and only EdgeMesh routes it; its owner reference names the kind ``JointMultiEdge``, which no
   API serves, so the garbage collector never removes it;
3. for each ``edgeWorker``, a Deployment ``<cr>-edgeworker-<5 random characters>``.

The Deployments have no labels and no owner reference; their selector and pod template carry
``kubernetes.io/hostname: <nodeName>`` and ``jointmultiedge.sedna.io/name: <cr>``. Every container gets
the variables of :data:`CONTROLLER_ENV` appended. The controller never updates nor deletes any of it, and
when the Service already exists (a resource re-created under the same name) step 2 fails and no edge
worker is ever made. Its own pod lookup also asks for a ``.../uid`` label the pods do not carry, so from
the second sync on it marks the resource ``Failed``: the resource's status says nothing about the workers.

One more surprise, from the API server: the CRD types ``template.metadata`` as a bare object, so whatever
labels a caller puts there are pruned when the resource is stored. Pods are therefore found by the label
the controller itself sets on the template (:data:`NAME_LABEL`), the resource by Dayu's labels on it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from backend.deploy.crd_schema import load_crd, version_schema

API_VERSION = "sedna.io/v1alpha1"
KIND = "JointMultiEdgeService"
SHORT_NAME = "mulji"
CRD_NAME = "jointmultiedgeservices.sedna.io"
CRD_FILE = Path(__file__).with_name("crds") / "sedna.io_jointmultiedgeservices.yaml"
OWNER_KIND = "JointMultiEdge"
"""The kind the controller writes into its Service's owner reference (its own name, not the CRD's kind)."""
LABEL_PREFIX = "jointmultiedge.sedna.io/"
NAME_LABEL = LABEL_PREFIX + "name"
UID_LABEL = LABEL_PREFIX + "uid"
WORKER_TYPE_LABEL = LABEL_PREFIX + "worker-type"
HOSTNAME_LABEL = "kubernetes.io/hostname"
PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name"
SERVICE_PORT_NAME = "tcp-0"
WORKER_KINDS = ("cloudworker", "edgeworker")
CONTROLLER_ENV = ("NAMESPACE", "SERVICE_NAME", "LOG_LEVEL", "NODE_NAME", "DATA_PATH_PREFIX", "LC_SERVER")
"""Appended by the controller to every container (``LC_SERVER`` to edge workers only)."""
CONTROLLER_NAMESPACE = "sedna"
CONTROLLER_DEPLOYMENT = "gm"
"""Where the controller (Sedna's global manager) runs in a standard Sedna install."""
MAX_NAME = 63 - len("-cloud")
"""The Service name ``<cr>-<pos>`` and the pod label value ``<cr>`` are at most 63 characters."""


def position(role: str) -> str:
    """``serviceConfig.pos`` of a workload on a node of this role (it names the Service)."""
    return "cloud" if role == "cloud" else "edge"


def resource_name(workload: str) -> str:
    """The resource's name: the workload's, shortened (with a hash) so that ``<name>-<pos>`` stays a valid
    Service name (63 characters)."""
    if len(workload) <= MAX_NAME:
        return workload
    digest = hashlib.sha1(workload.encode()).hexdigest()[:6]
    return f"{workload[: MAX_NAME - 7].rstrip('-')}-{digest}"


def service_name(resource: str, role: str) -> str:
    return f"{resource}-{position(role)}".lower()


def made_by_controller(deployment: dict[str, Any], resource: str) -> bool:
    """A Deployment the controller made for ``resource``: named ``<cr>-{cloud,edge}worker-<suffix>`` and
    selecting that resource's pods (so ``a`` never claims the workers of ``a-cloudworker-x``)."""
    name = deployment["metadata"]["name"]
    if not any(name.startswith(f"{resource}-{kind}-") for kind in WORKER_KINDS):
        return False
    selector = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return selector.get(NAME_LABEL) == resource


def label_value(text: str) -> str:
    """A valid label value (63 characters of ``[A-Za-z0-9_.-]``, alphanumeric at both ends)."""
    value = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:63].strip("-_.")
    return value or "x"


def crd() -> dict[str, Any]:
    return load_crd(CRD_FILE)


def schema() -> dict[str, Any]:
    return version_schema(crd(), "v1alpha1")


def established(obj: dict[str, Any] | None) -> bool:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)
