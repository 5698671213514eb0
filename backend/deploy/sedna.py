"""What the dayu-sedna controller does with a JointMultiEdgeService, in one place.

For each worker of the resource the controller creates one pod and one Service. The Service is named
``<resource-name>-<worker-type>`` in lower case; pods and Services carry only the labels below (none of
the resource's own labels) and no owner reference back to the resource, so deleting the resource leaves
them running. Pods are created once, when the resource is created: a later change of the resource never
reaches them, so a changed workload is replaced (resource, pods and Services deleted, then created again).
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

API_VERSION = "sedna.io/v1alpha1"
KIND = "JointMultiEdgeService"
CRD_NAME = "jointmultiedgeservices.sedna.io"
CRD_FILE = Path(__file__).with_name("crds") / "jointmultiedgeservice.yaml"
NAME_LABEL = "jointmultiedgeservice.sedna.io/name"
UID_LABEL = "jointmultiedgeservice.sedna.io/uid"
WORKER_TYPE_LABEL = "jointmultiedgeservice.sedna.io/worker-type"
WORKER_TYPES = {"cloud": "cloud", "edge": "edge"}
"""Worker type of a node role, as the controller writes it into Service names and labels."""
CONTROLLER_NAMESPACE = "sedna"
CONTROLLER_DEPLOYMENT = "gm"
"""Where the controller (Sedna's global manager) runs in a standard Sedna install."""
MAX_NAME = 63 - len("-cloud")


def worker_type(role: str) -> str:
    return WORKER_TYPES["cloud" if role == "cloud" else "edge"]


def resource_name(workload: str) -> str:
    """The resource's name: the workload's, shortened (with a hash) so that ``<name>-<worker-type>`` stays a
    valid Service name (63 characters)."""
    if len(workload) <= MAX_NAME:
        return workload
    digest = hashlib.sha1(workload.encode()).hexdigest()[:6]
    return f"{workload[: MAX_NAME - 7].rstrip('-')}-{digest}"


def service_name(resource: str, role: str) -> str:
    return f"{resource}-{worker_type(role)}".lower()


def label_value(text: str) -> str:
    """A valid label value (63 characters of ``[A-Za-z0-9_.-]``, alphanumeric at both ends)."""
    value = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:63].strip("-_.")
    return value or "x"


@cache
def crd() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(CRD_FILE.read_text())
    return data


def established(obj: dict[str, Any] | None) -> bool:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)
