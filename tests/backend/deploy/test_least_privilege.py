"""Least privilege on a cluster: the backend's Role grants what its deployer calls and nothing more, only the
backend's pod carries a service-account token, and pods meet the ``baseline`` Pod Security level but for
the documented hostPath volumes.

No API server runs here: the deployer's calls go through the official client to the loopback REST server
over the stand-in cluster (tests/backend/deploy/kube_http.py), which records them; RBAC is then evaluated
by the documented rules (verbs, API groups, resources, resourceNames). Pod Security admission is likewise
replaced by the documented baseline controls (tests/backend/deploy/pod_security.py).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from backend.deploy import cluster, sedna
from backend.deploy import runtime_service as rts
from backend.deploy.kube_api import ClusterApi
from backend.deploy.kube_render import COMPONENT_UID, WORK_MOUNT
from backend.deploy.kubernetes import KubernetesDeployer
from backend.deploy.offline import render_install
from backend.templates import load_template
from tests.backend.deploy.fake_cluster import FakeCluster, cluster_nodes
from tests.backend.deploy.kube_http import Request, serve
from tests.backend.deploy.pod_security import baseline_violations
from tests.backend.deploy.test_kubernetes import workloads

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
CLUSTER_SCOPED = {"nodes", "namespaces", "customresourcedefinitions", "clusterroles", "clusterrolebindings"}


def rules(kind: str) -> list[dict[str, Any]]:
    obj = next(o for o in cluster.rbac("dayu") if o["kind"] == kind)
    found: list[dict[str, Any]] = obj["rules"]
    return found


def attributes(request: Request) -> tuple[str, str, str, str] | None:
    """(verb, API group, resource, name) the API server authorizes a request as; None for discovery."""
    parts = [p for p in request.path.split("/") if p]
    if parts[:1] == ["api"]:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) > 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if not rest:
        return None
    if rest[0] == "namespaces" and len(rest) > 2:
        rest = rest[2:]
    resource, name = rest[0], (rest[1] if len(rest) > 1 else "")
    verb = {"GET": "get" if name else "list", "PATCH": "patch", "DELETE": "delete"}[request.method]
    return verb, group, resource, name


def allowed(granted: list[dict[str, Any]], verb: str, group: str, resource: str, name: str) -> bool:
    return any(
        verb in r["verbs"]
        and group in r["apiGroups"]
        and resource in r["resources"]
        and (not r.get("resourceNames") or name in r["resourceNames"])
        for r in granted
    )


def test_the_roles_name_every_verb_and_resource() -> None:
    for kind in ("Role", "ClusterRole"):
        for rule in rules(kind):
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[key], (kind, rule)
            assert not {"pods/exec", "pods/attach", "serviceaccounts/token", "serviceaccounts"} & set(rule["resources"])
            if "secrets" in rule["resources"]:
                assert rule.get("resourceNames"), rule
            assert "escalate" not in rule["verbs"] and "bind" not in rule["verbs"]


@pytest.mark.parametrize("mode", ["native", "sedna", "runtime-service"])
async def test_the_role_grants_every_call_the_deployer_makes(mode: str, tmp_path: Path) -> None:
    fake = FakeCluster(terminating_reads=2)
    fake.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dayu"}})
    fake.apply(sedna.crd())  # what dayu.sh start does with the cluster admin's rights
    fake.apply(rts.crd())
    with serve(fake, tmp_path) as (server, kubeconfig):
        api = ClusterApi(str(kubeconfig), discovery_cache=str(tmp_path / "discovery.json"))
        deployer = KubernetesDeployer(api, "dayu", mode)
        deployer.poll_interval = 0.05
        ws = workloads()
        await deployer.apply(ws)
        await deployer.wait_ready([w.name for w in ws], timeout=30, interval=0.05)
        topo = deployer.topology()
        assert topo is not None and topo.component_url("scheduler")
        changed = ws[0].model_copy(update={"env": {**ws[0].env, "X": "1"}})
        await deployer.apply([changed])
        await deployer.wait_ready([changed.name], timeout=30, interval=0.05)
        await deployer.remove([ws[1].name])
        await deployer.remove_all()
    calls = [a for a in map(attributes, server.requests) if a is not None]
    assert any(verb == "patch" for verb, *_ in calls) and any(verb == "delete" for verb, *_ in calls)
    created = [attributes(r) for r in server.requests if r.code == 201]
    role, cluster_role = rules("Role"), rules("ClusterRole")
    for verb, group, resource, name in calls + [("create", *a[1:]) for a in created if a]:
        granted = cluster_role if resource in CLUSTER_SCOPED else role
        assert allowed(granted, verb, group, resource, name), (verb, group, resource, name)
    assert all(r.code < 400 or r.code == 404 for r in server.requests), [
        (r.method, r.path, r.code) for r in server.requests if r.code >= 400 and r.code != 404
    ]


@pytest.mark.parametrize("mode", ["native", "sedna", "runtime-service"])
def test_only_the_backend_has_a_token_and_pods_meet_baseline_but_for_host_paths(mode: str) -> None:
    files = render_install(
        load_template(REPO / "template"),
        mode,
        nodes_data={"kind": "List", "items": cluster_nodes()},
        token="t",
    )
    pods: dict[str, dict[str, Any]] = {}
    for obj in (o for objs in files.values() for o in objs):
        if obj["kind"] == "Deployment":
            pods[obj["metadata"]["name"]] = obj["spec"]["template"]["spec"]
        elif obj["kind"] == "JointMultiEdgeService":
            pods[obj["metadata"]["name"]] = (obj["spec"].get("cloudWorker") or obj["spec"]["edgeWorker"][0])[
                "template"
            ]["spec"]
        elif obj["kind"] == rts.KIND:
            pods[obj["metadata"]["name"]] = obj["spec"]["podTemplate"]["spec"]
        elif obj["kind"] == "ServiceAccount" and obj["metadata"]["name"] == cluster.DATASOURCE_ACCOUNT:
            assert obj["automountServiceAccountToken"] is False
        elif obj["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            assert [s["name"] for s in obj["subjects"]] == [cluster.BACKEND_ACCOUNT]
    assert len(pods) > 5
    for name, spec in pods.items():
        assert spec.get("automountServiceAccountToken") is (name == "backend"), name
        if name == "datasource":
            assert spec["serviceAccountName"] == cluster.DATASOURCE_ACCOUNT
        # the one documented exception: node directories (the shared work directory, the control plane's state)
        assert {v.split(":")[0] for v in baseline_violations(spec)} <= {
            f"volume {v['name']}" for v in spec["volumes"]
        }, name
        assert all(v.endswith(": hostPath") for v in baseline_violations(spec)), name


def test_the_work_directory_is_prepared_with_only_chown_and_fowner() -> None:
    """The init step, run for real with exactly the capabilities its container keeps (needs root and setpriv,
    as the container runtime would apply them)."""
    if os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists():
        pytest.skip("needs root and util-linux setpriv")
    files = render_install(
        load_template(REPO / "template"), "native", nodes_data={"kind": "List", "items": cluster_nodes()}, token="t"
    )
    runtime = next(o for o in files["20-runtime.yaml"] if o["kind"] == "Deployment")
    init = runtime["spec"]["template"]["spec"]["initContainers"][0]
    caps = init["securityContext"]["capabilities"]
    assert caps["drop"] == ["ALL"]
    keep = ",".join(f"+{c.lower()}" for c in caps["add"])
    with tempfile.TemporaryDirectory(prefix="dayu-hostpath-") as outer:
        Path(outer).chmod(0o755)
        host_dir = Path(outer) / "work"
        host_dir.mkdir(mode=0o755)
        command = [part.replace(WORK_MOUNT, str(host_dir)) for part in init["command"]]
        limited = ["setpriv", f"--inh-caps=-all,{keep}", f"--bounding-set=-all,{keep}", "--", *command]
        subprocess.run(limited, check=True, timeout=30)
        assert host_dir.stat().st_uid == COMPONENT_UID and (host_dir.stat().st_mode & 0o777) == 0o770
        without = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--", *command]
        (host_dir.parent / "other").mkdir(mode=0o755)
        other = [part.replace(str(host_dir), str(host_dir.parent / "other")) for part in without]
        assert subprocess.run(other, timeout=30, capture_output=True).returncode != 0  # the capabilities are needed
