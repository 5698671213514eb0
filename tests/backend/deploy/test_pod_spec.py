"""The pod spec every component gets on a cluster: a work directory the component user can write, the
token from a Secret, resource requests, GPU requests and the Jetson runtime, and host networking for
clusters without EdgeMesh.

No kubelet runs here: the init step's command is run for real on a local directory in place of the
hostPath volume (as root, as the kubelet's container would), and a process with the component's uid then
writes into it, which is what the generator's first segment needs.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from backend.deploy.kube_render import COMPONENT_UID, WORK_MOUNT, render
from backend.deploy.kubernetes import KubernetesDeployer
from tests.backend.deploy.fake_cluster import FakeCluster
from tests.backend.deploy.test_kubernetes import workloads

pytestmark = pytest.mark.unit


def pods(mode: str = "native", network: str = "service") -> dict[str, dict[str, Any]]:
    deployer = KubernetesDeployer(FakeCluster(), "dayu", mode, network)  # type: ignore[arg-type]
    out = {}
    for obj in render(workloads(), deployer.nodes(), mode, "dayu", network=network):  # type: ignore[arg-type]
        if obj["kind"] == "Deployment":
            out[obj["metadata"]["name"]] = obj["spec"]["template"]
        elif obj["kind"] == "JointMultiEdgeService":
            worker = obj["spec"].get("cloudWorker") or obj["spec"]["edgeWorker"][0]
            out[obj["metadata"]["name"]] = worker["template"]
    return out


@pytest.mark.parametrize("mode", ["native", "sedna"])
def test_the_work_directory_is_prepared_for_the_component_user(mode: str) -> None:
    for name, pod in pods(mode).items():
        spec = pod["spec"]
        container = spec["containers"][0]
        work = next(m for m in container["volumeMounts"] if m["mountPath"] == WORK_MOUNT)
        volume = next(v for v in spec["volumes"] if v["name"] == work["name"])
        assert volume["hostPath"]["type"] == "DirectoryOrCreate", name
        assert container["securityContext"]["runAsUser"] == COMPONENT_UID
        init = spec["initContainers"][0]
        assert init["securityContext"]["runAsUser"] == 0
        assert {"name": work["name"], "mountPath": WORK_MOUNT} in init["volumeMounts"]
        kubernetes_validate.validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, **pod},
                                     "1.37.0", strict=True)  # fmt: skip
    if os.geteuid() != 0:
        pytest.skip("running the init step needs root (as in its container)")
    init = next(iter(pods(mode).values()))["spec"]["initContainers"][0]
    with tempfile.TemporaryDirectory(prefix="dayu-hostpath-") as outer:  # /tmp: reachable by every uid
        Path(outer).chmod(0o755)
        host_dir = Path(outer) / "work"
        host_dir.mkdir(mode=0o755)  # what the kubelet creates for DirectoryOrCreate
        command = [part.replace(WORK_MOUNT, str(host_dir)) for part in init["command"]]
        subprocess.run(command, check=True, timeout=30)
        subprocess.run(
            ["sh", "-c", 'echo x > "$1/segment.mp4"', "sh", str(host_dir)],
            check=True,
            timeout=30,
            user=COMPONENT_UID,
            group=COMPONENT_UID,
        )
        assert (host_dir / "segment.mp4").stat().st_uid == COMPONENT_UID


def test_the_token_comes_from_the_secret_and_every_pod_requests_resources() -> None:
    for name, pod in pods().items():
        container = pod["spec"]["containers"][0]
        token = [e for e in container["env"] if e["name"] == "DAYU_TOKEN"]
        # the components' own token, not the API token (key "token", the backend's only)
        ref = {"secretKeyRef": {"name": "dayu-token", "key": "component-token"}}
        assert token == [{"name": "DAYU_TOKEN", "valueFrom": ref}]
        assert all(e.get("value") != "tok" for e in container["env"]), name  # the planner's token, in plain text
        requests = container["resources"]["requests"]
        assert requests["cpu"] and requests["memory"], name
        for init in pod["spec"]["initContainers"]:
            assert init["resources"]["requests"], name


def test_gpu_processors_request_a_gpu_and_jetson_ones_use_the_nvidia_runtime() -> None:
    all_pods = pods()
    jetson = all_pods["processor-text-detection-jetson-a"]
    assert jetson["spec"]["containers"][0]["image"].split("/")[-1].startswith("processor-jetson5:")
    assert jetson["spec"]["runtimeClassName"] == "nvidia"
    cpu = all_pods["processor-text-detection-master"]
    assert "runtimeClassName" not in cpu["spec"]
    assert "nvidia.com/gpu" not in cpu["spec"]["containers"][0]["resources"]["limits"]  # CPU and memory only
    ws = [w for w in workloads() if w.name == "processor-text-detection-master"]
    gpu_w = ws[0].model_copy(update={"name": "processor-gpu", "node": "edge-b", "image": "r/x/processor-gpu:1"})
    spec = render([gpu_w], KubernetesDeployer(FakeCluster(), "dayu", "native").nodes(), "native", "dayu")[0]
    limits = spec["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"nvidia.com/gpu": "1", "cpu": "2", "memory": "2Gi"}


async def test_host_networking_reaches_components_by_node_address_and_own_ports() -> None:
    """Without EdgeMesh, edge pods cannot resolve Service names: components listen on their node's network,
    each on a port of its own on that node, and the topology names node addresses."""
    api = FakeCluster()
    deployer = KubernetesDeployer(api, "dayu", "native", "host")
    ws = workloads()
    await deployer.apply(ws)
    topo = deployer.topology()
    assert topo is not None
    assert topo.component_url("scheduler") == "http://10.0.0.1:9400"
    urls = [topo.processor_url("text-detection", "jetson-a"), topo.component_url("controller", "jetson-a")]
    assert all(u.startswith("http://10.0.0.2:") for u in urls)
    ports: dict[str, set[int]] = {}
    for obj in api.list_objects("apps/v1", "Deployment", "dayu", ""):
        spec = obj["spec"]["template"]["spec"]
        assert spec["hostNetwork"] is True
        port = spec["containers"][0]["ports"][0]["containerPort"]
        assert port not in ports.setdefault(spec["nodeName"], set()), obj["metadata"]["name"]
        ports[spec["nodeName"]].add(port)
    assert 9600 in ports["master"] and 9601 in ports["master"]  # two processors on one node
    mounted = json.loads(api.get("v1", "ConfigMap", "dayu", "dayu-topology")["data"]["topology.json"])  # type: ignore[index]
    assert mounted["nodes"]["jetson-a"]["components"]["controller"]["host"] == "10.0.0.2"
    # a later apply (a redeployment) keeps clear of the ports already taken
    extra = next(w for w in ws if w.name == "processor-text-recognition-master")
    await deployer.apply(
        [extra.model_copy(update={"name": "processor-face-detection-master", "service": "face-detection"})]
    )
    taken = [o["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
             for o in api.list_objects("apps/v1", "Deployment", "dayu", "dayu.io/node=master")]  # fmt: skip
    assert len(taken) == len(set(taken))
