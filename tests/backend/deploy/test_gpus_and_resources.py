"""GPU processors on a node with fewer GPUs, and CPU/memory requests and limits for every component.

No cluster or GPU runs here: nodes are ``kubectl get nodes -o yaml``-shaped documents (allocatable
``nvidia.com/gpu`` as the NVIDIA device plugin reports it) and the deployer runs against the stand-in
cluster (tests/backend/deploy/fake_cluster.py).
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from backend.deploy import cluster, gpus
from backend.deploy.kube_render import DEFAULT_RESOURCES, render
from backend.deploy.kubernetes import KubernetesDeployer
from backend.templates import GpuSettings, ResourceAmounts, Resources, load_template
from common.errors import ConfigError
from tests.backend.deploy.fake_cluster import FakeCluster, cluster_nodes
from tests.backend.deploy.test_kubernetes import workloads

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[3]


def gpu_cloud(api: FakeCluster, allocatable: int | None) -> None:
    """The control-plane node becomes a GPU node offering ``allocatable`` GPUs (None: it does not say)."""
    master = api.objects[("Node", "", "master")]
    master["metadata"]["labels"]["nvidia.com/gpu.present"] = "true"
    if allocatable is not None:
        master.setdefault("status", {})["allocatable"] = {"nvidia.com/gpu": str(allocatable)}


async def test_exclusive_gpus_refuse_a_node_with_too_few_and_time_slicing_shares_them() -> None:
    api = FakeCluster()
    gpu_cloud(api, 1)
    # text-detection and text-recognition both on master, with the -gpu image the planner picks on a GPU node
    ws = [
        w.model_copy(update={"image": (w.image or "").replace("/processor:", "/processor-gpu:")})
        if w.component == "processor" and w.node == "master"
        else w
        for w in workloads()
    ]
    on_master = [w for w in ws if gpus.uses_gpu(w) and w.node == "master"]
    assert len(on_master) == 2
    deployer = KubernetesDeployer(api, "dayu", "native")
    with pytest.raises(ConfigError, match=r"node 'master' offers 1 GPU.*2 GPU processors") as err:
        await deployer.apply(ws)
    assert err.value.detail["processors"] == ["text-detection", "text-recognition"]
    assert not api.list_objects("apps/v1", "Deployment", "dayu", "")  # refused before anything was applied
    # time-slicing: the device plugin advertises each GPU `replicas` times
    sliced = GpuSettings(sharing="time-slicing", replicas=4)
    api.objects[("Node", "", "master")]["status"]["allocatable"] = {"nvidia.com/gpu": "4"}
    deployer = KubernetesDeployer(api, "dayu", "native", gpu=sliced)
    await deployer.apply(ws)
    limits = [
        d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
        for d in api.list_objects("apps/v1", "Deployment", "dayu", "")
        if d["metadata"]["name"].startswith("processor-") and d["spec"]["template"]["spec"]["nodeName"] == "master"
    ]
    assert [lim["nvidia.com/gpu"] for lim in limits] == ["1", "1"]
    # a node that does not say how many GPUs it has is not refused
    assert gpus.node_gpus([{"metadata": {"name": "x", "labels": {}}}], sliced) == {}
    labelled = {"metadata": {"name": "x", "labels": {gpus.COUNT_LABEL: "2"}}}
    assert gpus.node_gpus([labelled], sliced) == {"x": 8}
    assert gpus.node_gpus([labelled], GpuSettings()) == {"x": 2}


def test_dayuctl_render_shows_the_gpu_plan_and_refuses_too_few(tmp_path: Path) -> None:
    template = tmp_path / "template"
    shutil.copytree(REPO / "template", template)
    base = yaml.safe_load((template / "base.yaml").read_text())
    base["defaults"]["dag"] = "text-pipeline"
    (template / "base.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
    nodes = copy.deepcopy(cluster_nodes())
    nodes[0]["metadata"]["labels"]["nvidia.com/gpu.present"] = "true"
    nodes[0]["status"]["allocatable"] = {"nvidia.com/gpu": "1"}
    nodes_file = tmp_path / "nodes.yaml"
    nodes_file.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": nodes}))

    def render_cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "backend.cli",
            "render",
            "--template",
            str(template),
            "--nodes",
            str(nodes_file),
        ]
        return subprocess.run([*command, *args], cwd=REPO, capture_output=True, text=True, timeout=120)

    refused = render_cli("--mode", "native", "--out", str(tmp_path / "refused"))
    assert refused.returncode == 1
    assert "node 'master' offers 1 GPU(s)" in refused.stderr and "time-slicing" in refused.stderr
    assert not (tmp_path / "refused").exists()
    base["kubernetes"]["gpu"] = {"sharing": "time-slicing", "replicas": 4}
    (template / "base.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
    nodes[0]["status"]["allocatable"] = {"nvidia.com/gpu": "4"}
    nodes_file.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": nodes}))
    shared = render_cli("--mode", "native", "--out", str(tmp_path / "shared"))
    assert shared.returncode == 0, shared.stderr
    assert "GPU processors on master: 2 (text-detection, text-recognition); 4 offered, time-slicing x4" in shared.stderr
    (config,) = yaml.safe_load_all((tmp_path / "shared" / "05-gpu-sharing.yaml").read_text())
    kubernetes_validate.validate(config, "1.37.0", strict=True)
    plugin = yaml.safe_load(config["data"]["dayu"])
    assert plugin == {
        "version": "v1",
        "sharing": {"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}},
    }


async def test_every_container_has_requests_and_limits_and_the_template_overrides_them(tmp_path: Path) -> None:
    nodes = KubernetesDeployer(FakeCluster(), "dayu", "native").nodes()
    for obj in render(workloads(), nodes, "native", "dayu"):
        if obj["kind"] != "Deployment":
            continue
        container = obj["spec"]["template"]["spec"]["containers"][0]
        resources: dict[str, Any] = container["resources"]
        for part in ("requests", "limits"):
            assert resources[part]["cpu"] and resources[part]["memory"], (obj["metadata"]["name"], part)
    assert set(DEFAULT_RESOURCES) >= {"generator", "controller", "processor", "distributor", "scheduler", "monitor"}
    # the template's kubernetes.resources reach the pods, over the defaults
    template = tmp_path / "template"
    shutil.copytree(REPO / "template", template)
    base = yaml.safe_load((template / "base.yaml").read_text())
    base["kubernetes"]["resources"] = {
        "scheduler": {"limits": {"memory": "3Gi"}},
        "backend": {"requests": {"cpu": "1"}},
    }
    (template / "base.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
    loaded = load_template(template)
    assert loaded.base.kubernetes.resources["scheduler"] == Resources(limits=ResourceAmounts(memory="3Gi"))
    deployer = KubernetesDeployer(FakeCluster(), "dayu", "native", resources=loaded.base.kubernetes.resources)
    await deployer.apply([w for w in workloads() if w.component == "scheduler"])
    (dep,) = deployer.api.list_objects("apps/v1", "Deployment", "dayu", "")
    got = dep["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert got["limits"] == {"cpu": DEFAULT_RESOURCES["scheduler"].limits.cpu, "memory": "3Gi"}
    assert got["requests"] == DEFAULT_RESOURCES["scheduler"].requests.model_dump()
    plane = cluster.control_plane_manifests(loaded, "master", "admin", "components")
    backend = next(o for o in plane if o["kind"] == "Deployment" and o["metadata"]["name"] == "backend")
    assert backend["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "1"
    for bad, problem in (
        ({"scheduler": {"limits": {"memory": "lots"}}}, "memory"),
        ({"gpu-thing": {}}, "unknown components"),
    ):
        base["kubernetes"]["resources"] = bad
        (template / "base.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
        with pytest.raises(ConfigError, match=problem):
            load_template(template)
