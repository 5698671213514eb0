"""The backend API on a real server with real SQLite: catalogs, DAGs, datasources, views, tokens, restarts.

Nothing is installed here (installing needs the runtime components: see tests/backend/test_flow.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backend.conftest import RunningBackend

pytestmark = pytest.mark.integration

DS_OK = """
name: street
sources:
  - {id: s1, mode: file, path: /tmp/x.mp4}
  - {id: s2, mode: http, dataset: synthetic, node_candidates: [edge1]}
"""
DS_BAD = """
name: broken
sources:
  - {id: s1, mode: file}
"""


def test_every_route_but_health_and_metrics_needs_the_token(backend: RunningBackend) -> None:
    anon = backend.client(token=None)
    assert anon.get("/health").status_code == 200
    assert anon.get("/metrics").status_code == 200
    routes = [
        ("GET", "/api/policies"), ("GET", "/api/services"), ("GET", "/api/nodes"), ("GET", "/api/dags"),
        ("POST", "/api/dags"), ("DELETE", "/api/dags/face-detection"), ("GET", "/api/datasources"),
        ("POST", "/api/install"), ("GET", "/api/install"), ("POST", "/api/uninstall"), ("GET", "/api/instances"),
        ("POST", "/api/query/open"), ("GET", "/api/sources"), ("GET", "/api/results/cam0"),
        ("GET", "/api/system"), ("GET", "/api/export/results"), ("GET", "/api/visualizations/cam0"),
        ("GET", "/api/traces"),
    ]  # fmt: skip
    for method, path in routes:
        for client in (anon, backend.client(token="wrong")):
            response = client.request(method, path)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["error"]["code"] == "unauthorized"
    # nothing changed behind the refusals
    assert [d["name"] for d in backend.client().get("/api/dags").json()] == ["face-detection", "text-pipeline"]


def test_catalogs(backend: RunningBackend) -> None:
    c = backend.client()
    policies = c.get("/api/policies").json()
    assert {p["id"] for p in policies} >= {"fixed", "cloud-only", "edge-only"}
    assert [p["id"] for p in policies if p["default"]] == ["fixed"]
    services = {s["id"]: s for s in c.get("/api/services").json()}
    assert services["text-recognition"]["input"] == "bbox"
    nodes = {n["name"]: n for n in c.get("/api/nodes").json()}
    assert nodes["cloud"]["role"] == "cloud" and nodes["edge1"]["role"] == "edge" and len(nodes) == 3
    # The template's edges are weaker than the cloud; whether cgroups enforce it is known once installed.
    assert nodes["edge1"]["cpu_quota"] == 1.0 and nodes["cloud"]["cpu_quota"] is None
    assert nodes["edge1"]["cpu_quota_enforced"] is None and nodes["edge1"]["cpu_quota_note"] is None
    views = c.get("/api/visualizations/catalog").json()
    assert any(v["type"] == "image" for v in views["result"]) and views["system"]
    assert c.get("/openapi.json").status_code == 200


def test_dag_lifecycle_and_bad_dags_change_nothing(backend: RunningBackend) -> None:
    c = backend.client()
    before = c.get("/api/dags").json()
    bad = [
        {"name": "x", "stages": {"stages": [{"name": "a", "service": "nope"}]}},  # unknown service
        {"name": "x", "stages": {"stages": [{"name": "a", "service": "text-recognition", "next": ["b"]},
                                            {"name": "b", "service": "text-detection"}]}},  # type mismatch
        {"name": "x", "stages": {"stages": [{"name": "a", "service": "face-detection", "next": ["b"]},
                                            {"name": "b", "service": "face-detection", "next": ["a"]}]}},  # cycle
        {"name": "x", "stages": {"stages": [{"name": "a", "service": "face-detection", "next": ["zz"]}]}},
        {"name": "../x", "stages": {"stages": [{"name": "a", "service": "face-detection"}]}},
        {"name": "x", "stages": {"stages": []}},
        {"name": "x", "stages": {"stages": [{"name": "a", "service": "face-detection"}]}, "extra": 1},
        {"name": "face-detection", "stages": {"stages": [{"name": "a", "service": "face-detection"}]}},  # exists
    ]  # fmt: skip
    for body in bad:
        response = c.post("/api/dags", json=body)
        assert 400 <= response.status_code < 500, body
        assert response.json()["error"]["message"]
    assert c.post("/api/dags", content=b"{not json", headers={"content-type": "application/json"}).status_code == 422
    assert c.get("/api/dags").json() == before

    spec = {"stages": [{"name": "det", "service": "text-detection", "next": ["rec"]},
                       {"name": "rec", "service": "text-recognition"}]}  # fmt: skip
    created = c.post("/api/dags", json={"name": "ocr", "stages": spec})
    assert created.status_code == 201, created.text
    assert created.json()["dag"]["_start"]["next"] == ["det"]
    assert c.put("/api/dags/ocr", json={"stages": [{"name": "a", "service": "nope"}]}).status_code == 400
    assert c.get("/api/dags/ocr").json()["spec"]["stages"][0]["name"] == "det"
    updated = c.put("/api/dags/ocr", json={"stages": [{"name": "only", "service": "text-detection"}]})
    assert updated.status_code == 200 and updated.json()["dag"]["only"]["next"] == ["_end"]
    assert c.put("/api/dags/missing", json=spec).status_code == 404
    assert c.delete("/api/dags/ocr").status_code == 200
    assert c.delete("/api/dags/ocr").status_code == 404


def test_datasource_upload_gives_a_result_per_file(backend: RunningBackend) -> None:
    c = backend.client()
    files = [
        ("files", ("ok.yaml", DS_OK.encode(), "application/yaml")),
        ("files", ("bad.yaml", DS_BAD.encode(), "application/yaml")),
        ("files", ("garbage.yaml", b"name: [unclosed", "application/yaml")),
        ("files", ("binary.yaml", b"\xff\xfe\x00", "application/yaml")),
    ]
    response = c.post("/api/datasources", files=files)
    assert response.status_code == 200
    results = {r["file"]: r for r in response.json()["results"]}
    assert results["ok.yaml"]["ok"] and results["ok.yaml"]["sources"] == ["s1", "s2"]
    assert not results["bad.yaml"]["ok"] and "bad.yaml:4" in results["bad.yaml"]["error"]
    assert not results["garbage.yaml"]["ok"] and "garbage.yaml:1" in results["garbage.yaml"]["error"]
    assert not results["binary.yaml"]["ok"]
    ids = [d["id"] for d in c.get("/api/datasources").json()]
    assert sorted(ids) == ["street", "synthetic"]
    again = c.post("/api/datasources", files=[("files", ("ok.yaml", DS_OK.encode(), "application/yaml"))])
    assert again.json()["results"][0]["ok"] is False  # a duplicate id is refused, the first stays
    assert c.post("/api/datasources").status_code == 422
    big = b"name: x\n" + b"#" * (2 * 1024 * 1024)
    too_big = c.post("/api/datasources", files=[("files", ("big.yaml", big, "text/plain"))])
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"
    assert c.delete("/api/datasources/street").status_code == 200
    assert c.delete("/api/datasources/street").status_code == 404


def test_traces_of_the_installed_template(backend: RunningBackend, template_dir: Path) -> None:
    """The installed template's traces/*.csv with their figures, those that do not parse listed apart; the
    local runtime follows traces and accepts a CSV file path as well."""
    (template_dir / "traces" / "lab.csv").write_text("t_s,mbit_per_s\n0,8\n30,1.5\n45,8\n")
    (template_dir / "traces" / "broken.csv").write_text("t_s,mbit_per_s\n0,8\n10,fast\n")
    answer = backend.client().get("/api/traces")
    assert answer.status_code == 200, answer.text
    listing = answer.json()
    assert listing["supported"] is True and listing["custom_files"] is True
    traces = {t["name"]: t for t in listing["traces"]}
    assert sorted(traces) == [
        "constant", "lab", "periodic", "random-walk", "step-drop",
        "tmobile-umts-driving-up", "verizon-evdo-driving-up", "verizon-lte-short-up",
    ]  # fmt: skip
    assert traces["verizon-evdo-driving-up"]["min_mbps"] == 0  # measured outages are listed, not refused
    assert traces["step-drop"] == {
        "name": "step-drop", "duration_s": 80.0, "min_mbps": 2.0, "max_mbps": 20.0, "rows": 4, "delay": True,
    }  # fmt: skip
    assert traces["lab"] == {
        "name": "lab", "duration_s": 45.0, "min_mbps": 1.5, "max_mbps": 8.0, "rows": 3, "delay": False,
    }  # fmt: skip
    assert traces["constant"]["duration_s"] == 0 and traces["constant"]["rows"] == 1
    assert listing["invalid"] == [
        {"name": "broken", "error": "trace 'broken' line 3: not a number in {'t_s': '10', 'mbit_per_s': 'fast'}"}
    ]


def test_install_and_query_refuse_bad_input_without_deploying(backend: RunningBackend) -> None:
    c = backend.client()
    bad = [
        {"datasource": "nope", "dag": "face-detection"},
        {"datasource": "synthetic", "dag": "nope"},
        {"datasource": "synthetic", "dag": "face-detection", "policy": "nope"},
        {"datasource": "synthetic", "sources": [{"source_id": "zz", "dag": "face-detection"}]},
        {"datasource": "synthetic", "sources": [{"source_id": "cam0", "dag": "face-detection", "nodes": ["mars"]}]},
        {"datasource": "synthetic"},
        {"datasource": "synthetic", "dag": "face-detection", "unknown": True},
        {"datasource": "synthetic", "dag": "face-detection", "trace": "no-such-trace"},
        {"datasource": "synthetic", "dag": "face-detection", "trace": "step-drop", "trace_mode": "rewind"},
    ]
    for body in bad:
        response = c.post("/api/install", json=body)
        assert 400 <= response.status_code < 500, (body, response.text)
    refused = c.post("/api/install", json={"datasource": "synthetic", "dag": "face-detection", "trace": "no-such"})
    assert "unknown trace 'no-such'; known: constant" in refused.json()["error"]["message"]
    state = c.get("/api/install").json()
    assert state["phase"] == "uninstalled"
    assert state["links"]["mode"] is None and state["links"]["links"] == []  # no links set up
    assert c.get("/api/instances").json() == []
    assert c.post("/api/query/open").status_code == 409
    assert c.get("/api/results/cam0").status_code == 404
    assert c.get("/api/results/cam0?after=-1").status_code == 422
    system = c.get("/api/system")
    assert system.status_code == 409 and "nothing is installed" in system.json()["error"]["message"]
    exported = c.get("/api/export/results")
    assert exported.status_code == 409 and exported.json()["error"]["code"] == "conflict"
    assert c.post("/api/redeploy").status_code == 409


def test_visualization_configs(backend: RunningBackend) -> None:
    c = backend.client()
    default = c.get("/api/visualizations/cam0").json()
    assert default["custom"] is False and default["views"]
    good = b"views:\n  - {id: d, name: Delay, type: curve, variables: [delay]}\n"
    bad = b"views:\n  - {id: d, name: Delay, type: pie, variables: [delay]}\n"
    r = c.put("/api/visualizations/cam0", files={"file": ("v.yaml", bad, "text/plain")})
    assert r.status_code == 400 and "v.yaml:2" in r.json()["error"]["message"]
    assert c.get("/api/visualizations/cam0").json()["custom"] is False
    r = c.put("/api/visualizations/cam0", files={"file": ("v.yaml", good, "text/plain")})
    assert r.status_code == 200 and r.json()["views"][0]["id"] == "d"
    assert c.put("/api/visualizations/Bad..Id", files={"file": ("v.yaml", good, "text/plain")}).status_code == 400
    assert c.delete("/api/visualizations/cam0").json()["custom"] is False


def test_a_restart_keeps_dags_datasources_and_views(tmp_path: Path, template_dir: Path) -> None:
    state = tmp_path / "state"
    spec = {"stages": [{"name": "p", "service": "pedestrian-detection"}]}
    with RunningBackend(state, template_dir) as first:
        c = first.client()
        assert c.post("/api/dags", json={"name": "people", "stages": spec}).status_code == 201
        assert c.post("/api/datasources", files=[("files", ("ok.yaml", DS_OK.encode(), "text/plain"))]).json()["ok"]
        good = b"views:\n  - {id: d, name: Delay, type: curve, variables: [delay]}\n"
        assert c.put("/api/visualizations/s1", files={"file": ("v.yaml", good, "text/plain")}).status_code == 200
        assert c.delete("/api/dags/text-pipeline").status_code == 200
    with RunningBackend(state, template_dir) as second:
        c = second.client()
        assert sorted(d["name"] for d in c.get("/api/dags").json()) == ["face-detection", "people"]
        assert sorted(d["id"] for d in c.get("/api/datasources").json()) == ["street", "synthetic"]
        assert c.get("/api/visualizations/s1").json()["custom"] is True
