"""The control plane's JSON bodies take values of the type their schema says, on a real backend on loopback.

Its install, DAG and open bodies hold names only (no number or flag field): a JSON number or boolean
where a name is declared is refused with a 422 naming the field, as a string where a number is declared
is refused by the data plane; nothing changes; valid bodies still get past validation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backend.conftest import RunningBackend
from tests.bodies import with_value

pytestmark = pytest.mark.integration

NOT_STRINGS = [False, True, 3, 0.5]
INSTALL = {
    "datasource": "synthetic",
    "policy": "fc",
    "dag": "face-detection",
    "sources": [{"source_id": "cam0", "dag": "face-detection", "nodes": ["edge1"]}],
    "trace": "constant",
}
DAG = {"name": "people", "stages": {"stages": [{"name": "p", "service": "face-detection"}], "edges": []}}
CASES: list[tuple[str, dict[str, Any], tuple[str | int, ...]]] = [
    ("/api/install", INSTALL, ("datasource",)),
    ("/api/install", INSTALL, ("policy",)),
    ("/api/install", INSTALL, ("sources", 0, "source_id")),
    ("/api/install", INSTALL, ("sources", 0, "nodes", 0)),
    ("/api/install", INSTALL, ("trace",)),
    ("/api/dags", DAG, ("name",)),
    ("/api/dags", DAG, ("stages", "stages", 0, "service")),
    ("/api/query/open", {"sources": ["cam0"]}, ("sources", 0)),
]


def test_a_number_or_a_bool_where_a_name_is_declared_is_a_422_naming_the_field(backend: RunningBackend) -> None:
    c = backend.client()
    dags = c.get("/api/dags").json()
    for route, body, path in CASES:
        field = ".".join(map(str, ("body", *path)))
        for value in NOT_STRINGS:
            answer = c.post(route, json=with_value(body, path, value))
            assert answer.status_code == 422, (route, path, value, answer.text)
            assert answer.json()["error"]["message"].startswith(f"{field}: "), answer.text
    assert c.get("/api/dags").json() == dags
    assert c.get("/api/install").json()["phase"] == "uninstalled"


def test_valid_bodies_get_past_validation(backend: RunningBackend) -> None:
    c = backend.client()
    created = c.post("/api/dags", json=DAG)
    assert created.status_code == 201, created.text
    # valid by the schema, refused by what the backend knows (400/404 naming the thing, not 422)
    unknown = c.post("/api/install", json={**INSTALL, "policy": "no-such-policy"})
    assert unknown.status_code in (400, 404) and "no-such-policy" in unknown.text, unknown.text
    assert c.post("/api/query/open", json={"sources": ["cam0"]}).status_code == 409  # nothing installed
