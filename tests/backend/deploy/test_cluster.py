"""dayu.sh on a cluster: control-plane manifests against the official schemas; start and stop against the
in-memory stand-in for the API server (tests/backend/deploy/fake_cluster.py), since no API server can run
here."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from backend.deploy import cluster
from backend.deploy.kubernetes import KubernetesDeployer
from backend.templates import Template, load_template
from common.errors import ConfigError, Unavailable
from tests.backend.deploy.fake_cluster import FakeCluster

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[3]
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
K8S_VERSIONS = ("1.36.0", "1.37.0")


def edited_template(tmp_path: Path, **changes: Any) -> Template:
    shutil.copytree(REPO / "template", tmp_path / "t")
    base = yaml.safe_load((tmp_path / "t" / "base.yaml").read_text())
    for key, value in changes.items():
        target = base
        *parents, leaf = key.split(".")
        for part in parents:
            target = target[part]
        target[leaf] = value
    (tmp_path / "t" / "base.yaml").write_text(yaml.safe_dump(base))
    return load_template(tmp_path / "t")


def deployment(objs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == name)


def test_manifests_pass_the_official_schemas() -> None:
    template = load_template(REPO / "template")
    objs = cluster.control_plane_manifests(template, "master", "tok")
    kinds = [o["kind"] for o in objs]
    assert kinds[0] == "Namespace" and {"ServiceAccount", "Role", "RoleBinding", "Secret", "ConfigMap"} <= set(kinds)
    for version in K8S_VERSIONS:
        for obj in objs:
            kubernetes_validate.validate(obj, version, strict=True)
    container = deployment(objs, "backend")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"docker.io/dayuhub/backend:{VERSION}"
    assert {"name": "DAYU_DEPLOYER", "value": "kubernetes"} in container["env"]


def test_start_waits_prints_url_and_stop_removes_everything() -> None:
    api = FakeCluster()
    template = load_template(REPO / "template")
    url = cluster.start(api, template, "tok", timeout=5)
    assert url == "http://10.0.0.1:30000"  # the cloud node's InternalIP: a node name may not resolve outside
    assert ("Namespace", "", "dayu") in api.objects
    cluster.stop(api, template)
    assert [k for k in api.objects if k[0] != "Node"] == []


def test_system_namespaces_are_refused(tmp_path: Path) -> None:
    template = edited_template(tmp_path, namespace="kube-system")
    api = FakeCluster()
    with pytest.raises(ConfigError, match="system namespace"):
        cluster.start(api, template, "tok", timeout=1)
    assert [k for k in api.objects if k[0] != "Node"] == []


def test_the_cluster_backend_reads_the_users_template_and_keeps_its_state(tmp_path: Path) -> None:
    """The backend in the cluster must run with the user's template (namespace, mode, registry, catalogs),
    mounted from a ConfigMap, and keep its state on a volume that outlives the pod."""
    template = edited_template(
        tmp_path,
        namespace="lab",
        **{"kubernetes.mode": "sedna", "image.registry": "reg.example:5000", "image.repository": "mine"},
    )
    objs = cluster.control_plane_manifests(template, "master", "tok")
    backend = deployment(objs, "backend")["spec"]["template"]["spec"]
    container = backend["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert container["image"] == f"reg.example:5000/mine/backend:{VERSION}"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in backend["volumes"]}
    # the template: a ConfigMap volume mounted where DAYU_TEMPLATE points, holding every catalog file
    template_volume = volumes[mounts[env["DAYU_TEMPLATE"]]]
    config = next(o for o in objs if o["kind"] == "ConfigMap")
    assert template_volume["configMap"]["name"] == config["metadata"]["name"]
    mounted = tmp_path / "mounted"
    for item in template_volume["configMap"]["items"]:
        (mounted / item["path"]).parent.mkdir(parents=True, exist_ok=True)
        (mounted / item["path"]).write_text(config["data"][item["key"]])
    seen = load_template(mounted)
    assert seen.base.namespace == "lab" and seen.base.kubernetes.mode == "sedna"
    assert seen.base.image.reference("processor") == f"reg.example:5000/mine/processor:{VERSION}"
    assert seen.base.runtime == "kubernetes" and seen.base.kubernetes.kubeconfig is None
    assert set(seen.services) == set(template.services) and set(seen.policies) == set(template.policies)
    # the state: a host directory of the (pinned) node, not the container's filesystem
    state_mount = next(p for p in mounts if env["DAYU_STATE_DIR"].startswith(p + "/"))
    state_volume = volumes[mounts[state_mount]]
    assert "hostPath" in state_volume and state_volume["hostPath"]["path"].startswith("/var/lib/dayu/lab/")
    assert backend["nodeName"] == "master"
    init = backend["initContainers"][0]
    assert {m["name"] for m in init["volumeMounts"]} == {mounts[state_mount]}


def test_uninstall_and_a_failed_install_leave_the_control_plane_and_other_installs(tmp_path: Path) -> None:
    """Removal by the backend selects its own install's runtime objects only; stop deletes only the cluster
    roles of its own namespace."""
    import asyncio

    from tests.backend.deploy.test_kubernetes import workloads

    api = FakeCluster()
    mine = load_template(REPO / "template")
    theirs = edited_template(tmp_path, namespace="lab")
    cluster.start(api, mine, "tok", timeout=5)
    cluster.start(api, theirs, "tok", timeout=5)
    control = {k for k in api.objects if k[0] != "Node"}
    ours = KubernetesDeployer(api, "dayu", "native")
    other = KubernetesDeployer(api, "lab", "native")
    ws = workloads()
    asyncio.run(ours.apply(ws))
    asyncio.run(other.apply(ws))
    lab_runtime = {k for k in api.objects if k[1] == "lab"} - control
    asyncio.run(ours.remove_all())
    assert {k for k in api.objects if k[0] != "Node"} == control | lab_runtime
    cluster.stop(api, mine)
    left = {k for k in api.objects if k[0] != "Node"}
    assert ("ClusterRole", "", "dayu-lab-nodes") in left and ("ClusterRoleBinding", "", "dayu-lab-nodes") in left
    assert ("ClusterRole", "", "dayu-dayu-nodes") not in left
    assert {k for k in control | lab_runtime if k[1] == "lab" or k[2] in ("lab", "dayu-lab-nodes")} <= left
    assert not any(k[1] == "dayu" or (k[1] == "" and k[2] in ("dayu", "dayu-dayu-nodes")) for k in left)


def test_sedna_mode_needs_the_controller_and_installs_the_crd_first(tmp_path: Path) -> None:
    template = edited_template(tmp_path, **{"kubernetes.mode": "sedna"})
    api = FakeCluster()
    with pytest.raises(Unavailable, match="dayu-sedna controller"):
        cluster.start(api, template, "tok", timeout=1)
    assert [k for k in api.objects if k[0] != "Node"] == []
    gm = {
        "selector": {"matchLabels": {"sedna": "gm"}},
        "template": {"metadata": {"labels": {"sedna": "gm"}}, "spec": {}},
    }
    api.apply(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "gm", "namespace": "sedna"}, "spec": gm}
    )
    cluster.start(api, template, "tok", timeout=5)
    assert api.crd_established()
    assert api.applied.index("CustomResourceDefinition/jointmultiedgeservices.sedna.io") < api.applied.index(
        "Namespace/dayu"
    )


def test_the_default_datasource_attaches_to_the_clusters_edge_nodes(tmp_path: Path) -> None:
    """A cluster has no nodes called edge1/edge2: the default sources go to the cluster's edge nodes, and a
    source whose candidates are not on the cluster is refused with the edge nodes that are."""
    from backend.app import seed
    from backend.contracts.install import InstallRequest
    from backend.install import Installer
    from backend.store import Store
    from common.errors import InvalidInput
    from common.transport import ServiceClient

    template = load_template(REPO / "template")
    store = Store(tmp_path / "db.sqlite3")
    seed(store, template)
    deployer = KubernetesDeployer(FakeCluster(), "dayu", "native")
    installer = Installer(template, store, deployer, ServiceClient(retries=0), token="t", datasource_url="http://ds")
    datasource = store.list_datasources()[0]["id"]
    sources = installer.resolve(InstallRequest(datasource=datasource, dag="face-detection")).sources
    assert {s.entry.id: s.attach for s in sources} == {"cam0": ["edge-b", "jetson-a"], "cam1": ["edge-b", "jetson-a"]}
    text = "name: pinned\nsources:\n  - {id: cam9, mode: http, dataset: synthetic, node_candidates: [edge1, edge2]}\n"
    store.add_datasource("pinned", "pinned.yaml", text, yaml.safe_load(text))
    with pytest.raises(InvalidInput, match=r"edge nodes found: \['edge-b', 'jetson-a'\]"):
        installer.resolve(InstallRequest(datasource="pinned", dag="face-detection"))


def test_start_honours_the_templates_ready_timeout(tmp_path: Path) -> None:
    template = edited_template(tmp_path, **{"kubernetes.ready_timeout_s": 0.3})
    api = FakeCluster()
    api.ready = False
    with pytest.raises(Unavailable, match=r"not ready after 0\.3s \(kubernetes\.ready_timeout_s\)"):
        cluster.start(api, template, "tok", poll_s=0.05)


def test_a_changed_template_restarts_the_backend_and_the_wait_sees_the_new_pod(tmp_path: Path) -> None:
    """The backend reads its template at start: re-running start with a changed template must replace its
    pod (and only its pod), and the wait must not take the old, terminating pod for the new one."""
    template = edited_template(tmp_path)
    api = FakeCluster(terminating_reads=3)

    def pods() -> dict[str, str]:
        return {
            p["metadata"]["labels"]["dayu.io/workload"]: p["metadata"]["name"]
            for p in api.pods("dayu", cluster.control_selector("dayu"))
            if not p["metadata"].get("deletionTimestamp")
        }

    cluster.start(api, template, "tok", component_token="comp", poll_s=0.01)
    first = pods()
    cluster.start(api, template, "tok", component_token="comp", poll_s=0.01)
    assert pods() == first  # unchanged template: nothing restarts
    base = yaml.safe_load((tmp_path / "t" / "base.yaml").read_text())
    base["install"]["stage_timeout_s"] = 45
    (tmp_path / "t" / "base.yaml").write_text(yaml.safe_dump(base))
    changed = load_template(tmp_path / "t")
    cluster.start(api, changed, "tok", component_token="comp", poll_s=0.01)
    after = pods()
    assert after["backend"] != first["backend"] and after["datasource"] == first["datasource"]
    assert len(api.pods("dayu", cluster.control_selector("dayu"))) == 2  # the old pod was gone before start returned
    data = api.get("v1", "ConfigMap", "dayu", cluster.TEMPLATE_CONFIGMAP)
    assert data is not None and "stage_timeout_s: 45" in data["data"]["base.yaml"]
