"""Declaring, in the OpenAPI document, bodies a route reads itself and replies it writes itself.

The data plane's routes parse their bodies themselves (multipart or framed uploads, size limits, one
validation of the task) and write their replies with pydantic in one step; FastAPI must neither parse
nor re-validate them. These helpers say in the document what those routes take and give, by name, so
the document stays the contract without costing the hot path anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from common.contracts.ops import ErrorBody

REF = "#/components/schemas/{model}"
BINARY = {"type": "string", "format": "binary"}
_DECLARED: dict[str, type[BaseModel]] = {}
"""Models named by :func:`body`; found again by name when an app builds its document."""


def body(
    model: type[BaseModel] | None = None, *, media_types: dict[str, type[BaseModel] | None] | None = None
) -> dict[str, Any]:
    """``openapi_extra`` declaring a request body: ``model`` as JSON, and/or other media types, each a
    named model or None for raw bytes."""
    content: dict[str, Any] = {}
    if model is not None:
        content["application/json"] = {"schema": _ref(model)}
    for media_type, part in (media_types or {}).items():
        content[media_type] = {"schema": _ref(part) if part is not None else dict(BINARY)}
    return {"requestBody": {"required": True, "content": content}}


def media(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """``responses`` declaring a non-JSON success reply (files, streams, frames)."""
    return {200: {"description": description, "content": {media_type: {"schema": dict(BINARY)}}}}


def reply(model: BaseModel, status_code: int = 200) -> Response:
    """``model`` as a JSON response, serialised by pydantic once (no second validation by FastAPI)."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


def _ref(model: type[BaseModel]) -> dict[str, str]:
    _DECLARED.setdefault(model.__name__, model)
    return {"$ref": REF.format(model=model.__name__)}


def _missing(document: dict[str, Any]) -> list[type[BaseModel]]:
    """Declared models the document's request bodies name but its components lack."""
    schemas = document.get("components", {}).get("schemas", {})
    names: set[str] = set()
    for methods in document.get("paths", {}).values():
        for operation in methods.values():
            for entry in operation.get("requestBody", {}).get("content", {}).values():
                ref = entry.get("schema", {}).get("$ref", "")
                name = ref.rsplit("/", 1)[-1]
                if ref.startswith("#/components/schemas/") and name not in schemas:
                    names.add(name)
    return [_DECLARED[name] for name in sorted(names) if name in _DECLARED]


def _error_replies(document: dict[str, Any]) -> None:
    """FastAPI documents its own 422 body; the service factory's one error handler answers ErrorBody."""
    for methods in document.get("paths", {}).values():
        for operation in methods.values():
            invalid = operation.get("responses", {}).get("422")
            if invalid is not None:
                invalid["description"] = "Invalid input (the message names the field)"
                invalid["content"] = {"application/json": {"schema": _ref(ErrorBody)}}
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def include_declared_bodies(app: FastAPI) -> None:
    """Make ``app.openapi()`` hold the schemas of the models its routes declare with :func:`body`, and
    document error replies as the :class:`ErrorBody` every component answers."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        _error_replies(document)
        models: list[type[BaseModel]] = [*_missing(document), ErrorBody]
        _, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in defs.get("$defs", {}).items():
            schemas.setdefault(name, schema)  # a reply's schema of the same name stays as FastAPI made it
        document["components"]["schemas"] = dict(sorted(schemas.items()))
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
