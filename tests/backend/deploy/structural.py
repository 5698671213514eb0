"""The API server's rules for a CustomResourceDefinition's schema (apiextensions.k8s.io/v1), as the
Kubernetes documentation states them ("Specifying a structural schema", "Validation"): what
kubernetes-validate cannot see, since the CRD's own OpenAPI schema types ``openAPIV3Schema`` as free JSON.

A schema is structural when:
1. it specifies a non-empty ``type`` for the root, for every field of an object node (``properties``,
   ``additionalProperties``) and for every array node's ``items``, except for a node with
   ``x-kubernetes-int-or-string: true`` or ``x-kubernetes-preserve-unknown-fields: true``;
2. every field and item given inside ``allOf``/``anyOf``/``oneOf``/``not`` is also given outside them;
3. ``description``, ``type``, ``default``, ``additionalProperties``, ``nullable`` are not set inside
   ``allOf``/``anyOf``/``oneOf``/``not`` (except the two int-or-string patterns);
4. under ``metadata`` at the root only ``metadata.name`` and ``metadata.generateName`` may be restricted,
   and only with ``type: string`` plus value restrictions.
Further validation rules: ``properties`` and ``additionalProperties`` are mutually exclusive (the only
exception, ``additionalProperties: true``, is a no-op); ``x-kubernetes-preserve-unknown-fields`` may only be
``true``; ``uniqueItems: true`` is forbidden; ``items`` holds one schema (no tuple); the root is an object;
``$ref`` is not allowed.
"""

from __future__ import annotations

from typing import Any

JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
FORBIDDEN_IN_JUNCTORS = ("description", "type", "default", "additionalProperties", "nullable")
INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]
METADATA_ALLOWED = {"name", "generateName"}
METADATA_NAME_KEYS = {"type", "description", "pattern", "maxLength", "minLength", "enum", "format"}


def _junctor_children(node: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key in JUNCTORS:
        value = node.get(key)
        if isinstance(value, dict):
            out.append(value)
        elif isinstance(value, list):
            out.extend(v for v in value if isinstance(v, dict))
    return out


def _inside_junctor(node: dict[str, Any], path: str, outside: dict[str, Any], errors: list[str]) -> None:
    int_or_string = outside.get("x-kubernetes-int-or-string") is True
    for key in FORBIDDEN_IN_JUNCTORS:
        if key in node and not (int_or_string and key == "type"):
            errors.append(f"{path}: {key} must not be set inside allOf/anyOf/oneOf/not")
    for name, child in (node.get("properties") or {}).items():
        if name not in (outside.get("properties") or {}):
            errors.append(f"{path}.properties.{name}: given inside a junctor but not outside it")
        elif isinstance(child, dict):
            _inside_junctor(child, f"{path}.properties.{name}", outside["properties"][name], errors)
    if isinstance(node.get("items"), dict):
        if not isinstance(outside.get("items"), dict):
            errors.append(f"{path}.items: given inside a junctor but not outside it")
        else:
            _inside_junctor(node["items"], f"{path}.items", outside["items"], errors)
    for child in _junctor_children(node):
        _inside_junctor(child, path, outside, errors)


def _check_metadata(node: dict[str, Any], path: str, errors: list[str]) -> None:
    extra = set(node) - {"type", "description", "properties"}
    if extra:
        errors.append(f"{path}: only metadata.name and metadata.generateName may be restricted, not {sorted(extra)}")
    if node.get("type") not in (None, "object"):
        errors.append(f"{path}: metadata must be of type object")
    for name, child in (node.get("properties") or {}).items():
        if name not in METADATA_ALLOWED:
            errors.append(f"{path}.properties.{name}: only name and generateName may be restricted")
        elif not isinstance(child, dict) or child.get("type") != "string" or set(child) - METADATA_NAME_KEYS:
            errors.append(f"{path}.properties.{name}: must be a string schema with value restrictions only")


def _check(node: Any, path: str, errors: list[str], *, typed: bool = True) -> None:
    if not isinstance(node, dict):
        errors.append(f"{path}: a schema must be an object")
        return
    exempt = node.get("x-kubernetes-int-or-string") is True or node.get("x-kubernetes-preserve-unknown-fields") is True
    if typed and not node.get("type") and not exempt:
        errors.append(f"{path}: type must be set")
    if "x-kubernetes-preserve-unknown-fields" in node and node["x-kubernetes-preserve-unknown-fields"] is not True:
        errors.append(f"{path}: x-kubernetes-preserve-unknown-fields may only be true")
    if node.get("uniqueItems") is True:
        errors.append(f"{path}: uniqueItems must not be true")
    if "$ref" in node:
        errors.append(f"{path}: $ref is not allowed")
    if "properties" in node and "additionalProperties" in node and node["additionalProperties"] is not True:
        errors.append(f"{path}: properties and additionalProperties are mutually exclusive")
    if node.get("x-kubernetes-int-or-string") is True:
        for junctor in ("anyOf", "allOf"):
            if (
                junctor in node
                and node[junctor] != INT_OR_STRING
                and not (junctor == "allOf" and node[junctor] == [{"anyOf": INT_OR_STRING}])
            ):
                errors.append(f"{path}.{junctor}: int-or-string allows only the two documented patterns")
    for name, child in (node.get("properties") or {}).items():
        _check(child, f"{path}.properties.{name}", errors)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        _check(extra, f"{path}.additionalProperties", errors)
    items = node.get("items")
    if isinstance(items, list):
        errors.append(f"{path}.items: must be one schema, not a list")
    elif items is not None:
        _check(items, f"{path}.items", errors)
    elif node.get("type") == "array" and not exempt:
        errors.append(f"{path}: an array must specify items")
    for child in _junctor_children(node):
        if node.get("x-kubernetes-int-or-string") is not True:
            _inside_junctor(child, path, node, errors)


def structural_errors(crd: dict[str, Any]) -> list[str]:
    """Every rule a CRD's schemas break (empty: the API server would accept them)."""
    errors: list[str] = []
    for version in crd["spec"]["versions"]:
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        where = f"versions[{version['name']}].schema.openAPIV3Schema"
        if not isinstance(schema, dict):
            errors.append(f"{where}: missing (required in apiextensions.k8s.io/v1)")
            continue
        if schema.get("type") != "object":
            errors.append(f"{where}: the root must be of type object")
        _check(schema, where, errors)
        metadata = (schema.get("properties") or {}).get("metadata")
        if isinstance(metadata, dict):
            _check_metadata(metadata, f"{where}.properties.metadata", errors)
    return errors
