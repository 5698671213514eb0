"""dayu.sh on a cluster: control-plane manifests against the official schemas; start and stop against a fake
API (tests/backend/deploy/test_kubernetes.FakeApi), since no API server can run here."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from backend.deploy import cluster
from backend.templates import load_template
from common.errors import ConfigError
from tests.backend.deploy.test_kubernetes import FakeApi

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[3]
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


class ReadyApi(FakeApi):
    """Fake API whose NodePort Services get a node port assigned, like the API server does."""

    def apply(self, obj: dict[str, Any]) -> None:
        if obj["kind"] == "Service":
            obj = {**obj, "spec": {**obj["spec"], "ports": [{**obj["spec"]["ports"][0], "nodePort": 30080}]}}
        super().apply(obj)

    def delete(self, api_version: str, kind: str, namespace: str, selector: str) -> int:
        gone = [k for k in self.objects if k[0] == kind]
        if kind == "Namespace":
            ns = selector.split("kubernetes.io/metadata.name=")[-1]
            gone += [k for k in self.objects if k[1] == ns]  # the namespace takes its objects with it
        for key in set(gone):
            del self.objects[key]
        return len(gone)


def test_manifests_pass_the_official_schemas() -> None:
    template = load_template(REPO / "template")
    objs = cluster.control_plane_manifests(template, "master", "tok")
    kinds = [o["kind"] for o in objs]
    assert kinds[0] == "Namespace" and {"ServiceAccount", "Role", "RoleBinding", "Secret"} <= set(kinds)
    for obj in objs:
        kubernetes_validate.validate(obj, "1.37.0", strict=True)
    backend = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "backend")
    container = backend["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"docker.io/dayuhub/backend:{VERSION}"
    assert {"name": "DAYU_DEPLOYER", "value": "kubernetes"} in container["env"]


def test_start_waits_prints_url_and_stop_removes_everything() -> None:
    api = ReadyApi()
    template = load_template(REPO / "template")
    url = cluster.start(api, template, "tok", timeout=5)
    assert url == "http://master:30080"
    assert ("Namespace", "", "dayu") in api.objects
    cluster.stop(api, template)
    assert api.objects == {}


def test_system_namespaces_are_refused(tmp_path: Path) -> None:
    shutil.copytree(REPO / "template", tmp_path / "t")
    base = yaml.safe_load((tmp_path / "t" / "base.yaml").read_text())
    base["namespace"] = "kube-system"
    (tmp_path / "t" / "base.yaml").write_text(yaml.safe_dump(base))
    template = load_template(tmp_path / "t")
    api = ReadyApi()
    with pytest.raises(ConfigError, match="system namespace"):
        cluster.start(api, template, "tok", timeout=1)
    assert api.objects == {}
