"""The exported OpenAPI documents (``docs/openapi/``) are current, and every route's contract is named.

The documents are produced by ``hack/openapi.py`` (``make schema``) in a subprocess, from the app
factories of every component, the backend and the datasource, without starting any of them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "openapi"
RUNTIME = ["controller", "datasource", "distributor", "generator", "monitor", "processor", "scheduler"]
JSON_TYPES = ("application/json", "multipart/form-data", "application/x-www-form-urlencoded")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("openapi")
    result = subprocess.run(
        [sys.executable, "hack/openapi.py", str(directory)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return directory


def load(directory: Path, component: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((directory / f"{component}.json").read_text())
    return document


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def is_named(schema: dict[str, Any]) -> bool:
    """A ``$ref`` to a components schema (or, for an optional body, that or null)."""
    if "$ref" in schema:
        return str(schema["$ref"]).startswith("#/components/schemas/")
    options = schema.get("anyOf", [])
    refs = [o for o in options if "$ref" in o]
    return len(refs) == 1 and all("$ref" in o or o == {"type": "null"} for o in options)


def problems(document: dict[str, Any]) -> dict[str, list[str]]:
    """Route -> what is not a named contract: JSON success replies and JSON/form bodies without a $ref, and
    request models that accept unknown fields."""
    schemas = document.get("components", {}).get("schemas", {})
    found: dict[str, list[str]] = {}
    for route, operation in operations(document):
        wrong = []
        successes = {code: r for code, r in operation.get("responses", {}).items() if code.startswith("2")}
        if not successes:
            wrong.append("no success response declared")
        for code, response in successes.items():
            for media_type, content in response.get("content", {}).items():
                if media_type.startswith("application/json") and not is_named(content.get("schema", {})):
                    wrong.append(f"{code} reply is anonymous: {json.dumps(content.get('schema'))[:120]}")
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
            schema = content.get("schema", {})
            if media_type.startswith(JSON_TYPES):
                if not is_named(schema):
                    wrong.append(f"{media_type} body is not a named model: {json.dumps(schema)[:120]}")
                    continue
                for option in [schema, *schema.get("anyOf", [])]:
                    name = str(option.get("$ref", "")).rsplit("/", 1)[-1]
                    model = schemas.get(name, {})
                    if model.get("type") == "object" and model.get("additionalProperties") is not False:
                        wrong.append(f"{media_type} body {name} accepts unknown fields (extra must be forbid)")
        if wrong:
            found[route] = wrong
    return found


@pytest.mark.parametrize("component", [*RUNTIME, "backend"])
def test_committed_document_is_current(exported: Path, component: str) -> None:
    committed = COMMITTED / f"{component}.json"
    assert committed.is_file(), f"{committed} is missing: run make schema"
    current = (exported / f"{component}.json").read_text()
    assert committed.read_text() == current, f"{committed} is out of date: run make schema"


def test_the_dashboards_committed_api_document_is_current() -> None:
    # The dashboard's API client (frontend/src/api) is committed and every build regenerates it: a stale
    # commit leaves a diff after any build, and a type check run without a build checks the old contract.
    result = subprocess.run(
        [sys.executable, "frontend/scripts/dump_openapi.py"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    committed = ROOT / "frontend" / "src" / "api" / "openapi.json"
    assert json.loads(committed.read_text()) == json.loads(result.stdout), (
        f"{committed} is out of date: run `npm run gen:api` in frontend/"
    )


@pytest.mark.parametrize("component", [*RUNTIME, "backend"])
def test_every_route_has_a_named_contract(exported: Path, component: str) -> None:
    found = problems(load(exported, component))
    assert not found, f"{component}: routes without named contracts: {json.dumps(found, indent=2)}"


def test_the_check_finds_an_anonymous_reply_and_an_open_body() -> None:
    document = {
        "paths": {
            "/a": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {}}}}}}},
            "/b": {
                "post": {
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Open"}}}},
                    "responses": {"200": {"content": {"application/gzip": {"schema": {"type": "string"}}}}},
                }
            },
            "/c": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {"type": "object"}}}}}}},
        },
        "components": {"schemas": {"Open": {"type": "object", "properties": {}}}},
    }
    found = problems(document)
    assert set(found) == {"GET /a", "POST /b", "GET /c"}
    assert "extra must be forbid" in found["POST /b"][0]


def test_check_mode_names_a_stale_document(tmp_path: Path) -> None:
    (tmp_path / "controller.json").write_text("{}\n")
    result = subprocess.run(
        [sys.executable, "hack/openapi.py", "--check", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "controller.json" in result.stderr and "make schema" in result.stderr
