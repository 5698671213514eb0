"""`dayuctl render`: an install's manifests written without a cluster, every object valid for the two newest
Kubernetes versions kubernetes-validate knows (as `kubernetes-validate --strict` checks them), the CRD
structural, and the custom resources valid against it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from backend.deploy import runtime_service as rts
from backend.deploy import sedna
from backend.deploy.crd_schema import load_crd, prune, version_schema
from tests.backend.deploy.fake_cluster import cluster_nodes, rts_validation
from tests.backend.deploy.structural import structural_errors

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


def newest_versions() -> list[str]:
    versions = sorted({tuple(int(x) for x in v.split(".")) for v in kubernetes_validate.utils.all_versions()})
    return [".".join(map(str, v)) for v in versions[-2:]]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", "render", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def validate_with_the_cli(path: Path, version: str) -> None:
    exe = Path(sys.executable).with_name("kubernetes-validate")
    run = subprocess.run(
        [str(exe), "--strict", "--quiet", "-k", version, str(path)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("mode", ["native", "sedna", "runtime-service"])
def test_render_writes_manifests_valid_for_the_newest_kubernetes(mode: str, tmp_path: Path) -> None:
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": cluster_nodes()}))
    run = cli("--mode", mode, "--nodes", str(nodes), "--out", str(tmp_path / "out"), "--token", "secret-token")
    assert run.returncode == 0, run.stderr
    files = sorted((tmp_path / "out").iterdir())
    expected = ["10-control-plane.yaml", "20-runtime.yaml"]
    if mode != "native":
        expected.insert(0, "00-crd.yaml")
    assert [f.name for f in files] == expected
    objs: list[dict[str, Any]] = [o for f in files for o in yaml.safe_load_all(f.read_text()) if o]
    crd = next((o for o in objs if o["kind"] == "CustomResourceDefinition"), None)
    versions = newest_versions()
    assert len(versions) == 2
    for f in files:  # custom resources: the CLI knows no schema for them (a warning), checked below
        for version in versions:
            validate_with_the_cli(f, version)
    for obj in objs:
        if obj["kind"] == "JointMultiEdgeService":
            assert crd == load_crd(sedna.CRD_FILE)  # the controller's own CRD, as vendored
            schema = version_schema(crd, "v1alpha1")
            jsonschema.validate(obj, schema)
            assert prune(obj, schema)[1] == []  # nothing the API server would drop
            worker = obj["spec"].get("cloudWorker") or obj["spec"]["edgeWorker"][0]
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, **worker["template"]}
            for version in versions:
                kubernetes_validate.validate(pod, version, strict=True)
        elif obj["kind"] == "RuntimeService":
            assert crd == load_crd(rts.CRD_FILE)
            schema = version_schema(crd, "v1alpha1")
            jsonschema.validate(obj, schema)
            assert prune(obj, schema)[1] == []
            assert rts_validation(obj) == ""  # what the controller would refuse
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, **obj["spec"]["podTemplate"]}
            for version in versions:
                kubernetes_validate.validate(pod, version, strict=True)
        else:
            for version in versions:
                kubernetes_validate.validate(obj, version, strict=True)
    if crd is not None:
        assert structural_errors(crd) == []
    kinds = {o["kind"] for o in objs}
    assert {"Namespace", "Secret", "ConfigMap", "Deployment", "Service"} <= kinds
    kinds_of_workloads = ("Deployment", "JointMultiEdgeService", "RuntimeService")
    workloads = {
        o["metadata"]["labels"].get("dayu.io/workload", o["metadata"]["name"])
        for o in objs
        if o["kind"] in kinds_of_workloads
    }
    assert {"scheduler", "distributor", "generator-cam0", "generator-cam1", "backend", "datasource"} <= workloads
    generators = [o for o in objs if o["metadata"]["name"].startswith("generator-")]
    assert all(o["metadata"]["labels"]["dayu.io/node"] in ("edge-b", "jetson-a") for o in generators)
    secret = next(o for o in objs if o["kind"] == "Secret")
    assert secret["stringData"]["token"] == "secret-token"
    assert "secret-token" not in (tmp_path / "out" / "20-runtime.yaml").read_text()


def test_render_to_stdout_and_bad_input() -> None:
    run = cli("--mode", "native", "--network", "host")
    assert run.returncode == 0, run.stderr
    objs = [o for o in yaml.safe_load_all(run.stdout) if o]
    runtime = [o for o in objs if o["kind"] == "Deployment" and o["metadata"]["labels"]["dayu.io/plane"] == "runtime"]
    pods = [o["spec"]["template"]["spec"] for o in runtime]
    assert pods and all(p["hostNetwork"] for p in pods)
    bad = cli("--template", "/nonexistent")
    assert bad.returncode == 1 and "dayuctl:" in bad.stderr
