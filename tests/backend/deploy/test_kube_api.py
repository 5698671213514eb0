"""``ClusterApi`` through the official ``kubernetes`` client against a loopback server speaking the Kubernetes
REST API (tests/backend/deploy/kube_http.py; no API server can run here, so the objects behind it are the
in-memory stand-in cluster, controllers included)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from backend.deploy import sedna
from backend.deploy.kube_api import FIELD_MANAGER, ClusterApi
from backend.deploy.kubernetes import KubernetesDeployer
from common.errors import Unavailable
from tests.backend.deploy.fake_cluster import FakeCluster
from tests.backend.deploy.kube_http import APPLY_PATCH, serve
from tests.backend.deploy.test_kubernetes import workloads

pytestmark = pytest.mark.integration


def namespace(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def configmap(name: str, **labels: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "dayu", "labels": labels},
        "data": {"k": "v"},
    }


def test_apply_get_list_delete_speak_the_rest_api(tmp_path: Path) -> None:
    with serve(FakeCluster(), tmp_path) as (server, kubeconfig):
        api = ClusterApi(str(kubeconfig), discovery_cache=str(tmp_path / "discovery.json"))
        api.apply(namespace("dayu"))
        api.apply(configmap("a", app="x"))
        api.apply(configmap("b", app="y"))
        got = api.get("v1", "ConfigMap", "dayu", "a")
        assert got is not None and got["data"] == {"k": "v"} and got["metadata"]["labels"] == {"app": "x"}
        assert [o["metadata"]["name"] for o in api.list_objects("v1", "ConfigMap", "dayu", "app=y")] == ["b"]
        assert {n["metadata"]["name"] for n in api.nodes()} == {"master", "jetson-a", "edge-b", "other"}
        assert api.get("v1", "ConfigMap", "dayu", "missing") is None  # a 404 Status body
        assert api.delete_named("v1", "ConfigMap", "dayu", "a") is True
        assert api.delete_named("v1", "ConfigMap", "dayu", "a") is False  # 404 again
        assert api.delete("v1", "ConfigMap", "dayu", "app=y") == 1
        # a kind the cluster does not serve: nothing to read, and a clear refusal to write
        assert api.get(sedna.API_VERSION, sedna.KIND, "dayu", "x") is None
        assert api.list_objects(sedna.API_VERSION, sedna.KIND, "dayu", "") == []
        with pytest.raises(Unavailable, match=r"does not know sedna\.io/v1alpha1"):
            api.apply(
                {"apiVersion": sedna.API_VERSION, "kind": sedna.KIND, "metadata": {"name": "x", "namespace": "dayu"}}
            )
    applies = [r for r in server.requests if r.method == "PATCH"]
    assert applies and all(r.content_type == APPLY_PATCH for r in applies)
    assert all(r.query.get("fieldManager") == FIELD_MANAGER and r.query.get("force") == "true" for r in applies)
    assert all(r.authorization == f"Bearer {server.token}" for r in server.requests)
    assert [r.path for r in server.requests if r.method == "DELETE"][:1] == ["/api/v1/namespaces/dayu/configmaps/a"]
    assert all(r.query.get("propagationPolicy") == "Background" for r in server.requests if r.method == "DELETE")


def test_api_errors_name_the_call_and_the_servers_reason(tmp_path: Path) -> None:
    with serve(FakeCluster(), tmp_path) as (server, kubeconfig):
        api = ClusterApi(str(kubeconfig), discovery_cache=str(tmp_path / "discovery.json"))
        with pytest.raises(Unavailable, match=r"cannot apply ConfigMap 'a': 404 Not Found") as err:
            api.apply(configmap("a"))  # its namespace does not exist
        assert 'namespaces \\"dayu\\" not found' in err.value.detail["body"]
        api.apply(namespace("dayu"))
        server.managers[("ConfigMap", "dayu", "a")] = "kubectl"  # someone else manages it
        server.refuse[("PATCH", "/api/v1/namespaces/dayu/configmaps/a")] = (
            409,
            'Apply failed with 1 conflict: conflict with "kubectl"',
        )
        with pytest.raises(Unavailable, match="409 Conflict"):
            api.apply(configmap("a"))
        server.refuse[("GET", "/api/v1/namespaces/dayu/configmaps/b")] = (403, 'configmaps "b" is forbidden')
        with pytest.raises(Unavailable, match="cannot read ConfigMap 'b': 403 Forbidden"):
            api.get("v1", "ConfigMap", "dayu", "b")
        server.token = "another"  # the client's token is no longer accepted
        with pytest.raises(Unavailable, match="401 Unauthorized"):
            api.list_objects("v1", "ConfigMap", "dayu", "")


def test_the_server_refuses_what_the_api_server_refuses(tmp_path: Path) -> None:
    """The stand-in server must not accept what a real API server rejects, or the tests above prove little:
    a merge patch where an apply was meant, an apply without a field manager, a foreign manager's object."""

    def patch(path: str, body: dict[str, object], content_type: str, query: str) -> tuple[int, dict[str, object]]:
        request = urllib.request.Request(
            f"{base}{path}?{query}",
            data=json.dumps(body).encode(),
            method="PATCH",
            headers={"Content-Type": content_type, "Authorization": f"Bearer {server.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    with serve(FakeCluster(), tmp_path) as (server, kubeconfig):
        base = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        path = "/api/v1/namespaces/dayu"
        code, body = patch(path, namespace("dayu"), "application/merge-patch+json", "fieldManager=x")
        assert (code, body["reason"]) == (415, "UnsupportedMediaType")
        code, body = patch(path, namespace("dayu"), APPLY_PATCH, "")
        assert (code, body["reason"]) == (422, "Invalid") and "fieldManager" in str(body["message"])
        assert patch(path, namespace("dayu"), APPLY_PATCH, "fieldManager=kubectl")[0] == 201
        code, body = patch(path, namespace("dayu"), APPLY_PATCH, "fieldManager=dayu")
        assert (code, body["reason"], body["kind"]) == (409, "Conflict", "Status")
        assert patch(path, namespace("dayu"), APPLY_PATCH, "fieldManager=dayu&force=true")[0] == 200


async def test_sedna_mode_end_to_end_through_the_rest_api(tmp_path: Path) -> None:
    """The deployer with the real client: the CRD applied and its group discovered once established, the
    resources applied, the controller's pods found, and everything removed again."""
    with serve(FakeCluster(), tmp_path) as (server, kubeconfig):
        api = ClusterApi(str(kubeconfig), discovery_cache=str(tmp_path / "discovery.json"))
        api.apply(namespace("dayu"))
        deployer = KubernetesDeployer(api, "dayu", "sedna")
        deployer.poll_interval = 0.05
        ws = workloads()
        await deployer.apply(ws)
        ready = await deployer.wait_ready([w.name for w in ws], timeout=30, interval=0.05)
        assert all(s.ready for s in ready) and len(ready) == len(ws)
        await deployer.remove_all()
        assert {k for k in server.cluster.objects if k[1] == "dayu"} == set()
    crd_applies = [r for r in server.requests if r.method == "PATCH" and "customresourcedefinitions" in r.path]
    assert len(crd_applies) == 1
    cr_paths = {r.path for r in server.requests if r.method == "PATCH" and "/apis/sedna.io/" in r.path}
    assert "/apis/sedna.io/v1alpha1/namespaces/dayu/jointmultiedgeservices/scheduler" in cr_paths
