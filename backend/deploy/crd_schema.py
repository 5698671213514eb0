"""What the API server keeps of a custom resource: pruning by the CRD's structural schema.

An ``apiextensions.k8s.io/v1`` CRD always prunes: a field its schema does not specify is dropped when the
object is stored (or refused, where the client asks for strict field validation), unless the node says
``x-kubernetes-preserve-unknown-fields: true``. Only ``metadata`` at the root is kept whole. An object node
typed ``object`` with neither ``properties`` nor ``additionalProperties`` therefore loses every key: this is
what a bare ``metadata: {type: object}`` inside a pod template does to its labels.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml


@cache
def load_crd(path: Path) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the vendored CRDs are ~1 MB of YAML
    data: dict[str, Any] = yaml.load(path.read_text(), Loader=loader)
    return data


def version_schema(crd: dict[str, Any], version: str | None = None) -> dict[str, Any]:
    for entry in crd["spec"]["versions"]:
        if version is None or entry["name"] == version:
            schema: dict[str, Any] = entry["schema"]["openAPIV3Schema"]
            return schema
    raise KeyError(f"{crd['metadata']['name']} serves no version {version}")


def _prune(value: Any, schema: dict[str, Any], path: str, dropped: list[str]) -> Any:
    if schema.get("x-kubernetes-preserve-unknown-fields") is True:
        return value
    if isinstance(value, list):
        items = schema.get("items")
        if not isinstance(items, dict):
            return value
        return [_prune(v, items, f"{path}[{i}]", dropped) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    props = schema.get("properties")
    extra = schema.get("additionalProperties")
    out: dict[str, Any] = {}
    for key, child in value.items():
        where = f"{path}.{key}" if path else key
        if isinstance(props, dict) and key in props:
            out[key] = _prune(child, props[key], where, dropped)
        elif isinstance(extra, dict):
            out[key] = _prune(child, extra, where, dropped)
        elif extra is True:
            out[key] = child
        else:
            dropped.append(where)
    return out


def prune(obj: dict[str, Any], schema: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The object as the API server stores it, and the paths of the fields it dropped."""
    dropped: list[str] = []
    out = {}
    for key, value in obj.items():
        if key in ("apiVersion", "kind", "metadata"):
            out[key] = copy.deepcopy(value)  # root metadata is the API server's own ObjectMeta
        elif key in (schema.get("properties") or {}):
            out[key] = _prune(copy.deepcopy(value), schema["properties"][key], key, dropped)
        else:
            dropped.append(key)
    return out, dropped
