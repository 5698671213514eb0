"""Declaring, in the OpenAPI document, bodies a route reads itself and replies it writes itself.

The data plane's routes parse their bodies themselves (multipart or framed uploads, size limits, one
validation of the task) and write their replies with pydantic in one step; FastAPI must neither parse
nor re-validate them. These helpers say in the document what those routes take and give, by name, so
the document stays the contract without costing the hot path anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from common.contracts.ops import ErrorBody
from common.errors import DayuError

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


ERROR_CONTENT = {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}}
READ_METHODS = ("get", "head")
DERIVED = {
    400: "Invalid input the schema cannot say (a rule across fields, a name, malformed or too deep JSON)",
    401: "Missing or wrong token",
    403: "The read-only token may not write",
    404: "Nothing of that name",
    413: "The body is over the route's limit",
    422: "Invalid input (the message names the field)",
}
"""Error replies the factory declares by itself, from what a route takes (see :func:`_error_replies`)."""


def raises(*errors: type[DayuError]) -> dict[int | str, dict[str, Any]]:
    """``responses`` declaring error replies a route answers beyond those every route of its kind gives
    (a state conflict, a dependency that is down): each as the one error body, described by its class."""
    out: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        doc = (error.__doc__ or error.code).strip().splitlines()[0]
        if error.status_code in out:  # two errors of one status (503: overloaded, unavailable) share it
            doc = f"{out[error.status_code]['description']} Or: {doc}"
        out[error.status_code] = {"description": doc, "content": {"application/json": {"schema": _ref(ErrorBody)}}}
    return out


def event_stream(description: str, event: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """``responses`` declaring a server-sent event stream whose events carry ``event`` as JSON data (the
    schema describes one event, as OpenAPI 3.1 reads an event stream's schema)."""
    schema = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "event": {"type": "string"},
            "id": {"type": "string"},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "description": f"{event.__name__} as JSON",
            },
        },
    }
    return {200: {"description": description, "content": {"text/event-stream": {"schema": schema}}}}


def _derived_statuses(path: str, method: str, operation: dict[str, Any], guarded: bool) -> list[int]:
    """The error statuses the factory itself gives an operation: the guard's token check (401, and 403
    for a write with the read-only token), a body's limit and shape (413, 400, 422), a named thing that
    may not exist (404 for a path parameter), parameters FastAPI validates (422) and a route may refuse
    beyond their schema (400)."""
    statuses: list[int] = []
    if guarded:
        statuses.append(401)
        if method not in READ_METHODS:
            statuses.append(403)
    parameters = operation.get("parameters", [])
    if "requestBody" in operation:
        statuses += [400, 413, 422]
    elif parameters:
        statuses += [400, 422]
    if "{" in path:
        statuses.append(404)
    return sorted(statuses)


def _multipart_forms(document: dict[str, Any]) -> None:
    """FastAPI documents a form model holding files as url-encoded; such a form can only be sent (and is
    only read) as multipart, where a required list of files cannot be empty."""
    schemas = document.get("components", {}).get("schemas", {})
    for methods in document.get("paths", {}).values():
        for operation in methods.values():
            content = operation.get("requestBody", {}).get("content", {})
            form = content.get("application/x-www-form-urlencoded")
            if form is None:
                continue
            schema = schemas.get(form.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1], form.get("schema", {}))
            fields = list(schema.get("properties", {}).values())
            fields += [f["items"] for f in fields if isinstance(f.get("items"), dict)]
            if any("contentMediaType" in f or f.get("format") == "binary" for f in fields):
                content["multipart/form-data"] = content.pop("application/x-www-form-urlencoded")
                # An empty list of parts is no field at all on the wire: a required list holds one at least.
                for name in schema.get("required", []):
                    if schema["properties"].get(name, {}).get("type") == "array":
                        schema["properties"][name].setdefault("minItems", 1)


def _error_replies(document: dict[str, Any], guarded: frozenset[str]) -> None:
    """Document every error reply as the :class:`ErrorBody` the factory's one error handler answers: the
    ones derived from what the route takes, and any the route declares itself (see :func:`raises`)."""
    for path, methods in document.get("paths", {}).items():
        for method, operation in methods.items():
            responses = operation.setdefault("responses", {})
            for status in _derived_statuses(path, method, operation, path in guarded):
                responses.setdefault(str(status), {"description": DERIVED[status]})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = dict(ERROR_CONTENT)
                    if status == "422":
                        response["description"] = DERIVED[422]
            operation["responses"] = dict(sorted(responses.items()))
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def include_declared_bodies(app: FastAPI, guarded: Iterable[str] = ()) -> None:
    """Make ``app.openapi()`` hold the schemas of the models its routes declare with :func:`body`, and
    document error replies as the :class:`ErrorBody` every component answers. ``guarded``: the paths
    that need the token."""
    protected = frozenset(guarded)
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        _multipart_forms(document)
        _error_replies(document, protected)
        models: list[type[BaseModel]] = [*_missing(document), ErrorBody]
        _, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in defs.get("$defs", {}).items():
            schemas.setdefault(name, schema)  # a reply's schema of the same name stays as FastAPI made it
        document["components"]["schemas"] = dict(sorted(schemas.items()))
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
