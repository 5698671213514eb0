"""Kubernetes rendering, apply, readiness and removal.

No API server can run here: manifests are checked against the official Kubernetes schemas
(kubernetes-validate) and the shipped CRD's schema (jsonschema); apply/delete/readiness logic runs
against an in-memory stand-in for the cluster and its controllers (tests/backend/deploy/fake_cluster.py).
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from backend.datasource_config import SourceEntry
from backend.deploy.crd_schema import load_crd, prune, version_schema
from backend.deploy.kube_render import render, runtime_selector, topology_configmap, topology_for
from backend.deploy.kube_topology import KubernetesTopology
from backend.deploy.kubernetes import KubernetesDeployer, check_namespace
from backend.planner import Planner, ResolvedSource, resolve_dag
from backend.templates import load_template
from common.errors import ConfigError, Unavailable
from common.topology import NodeSpec
from tests.backend.deploy.fake_cluster import FakeCluster as FakeApi

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[3]
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
CRD = Path(REPO / "backend/deploy/crds/sedna.io_jointmultiedgeservices.yaml")
K8S = "1.37.0"


def workloads() -> list[Any]:
    t = load_template(REPO / "template")
    deployer = KubernetesDeployer(FakeApi(), "dayu", "native")
    nodes = deployer.nodes()
    planner = Planner(t, nodes, "tok", container_ports=True)
    spec = {
        "stages": [
            {"name": "det", "service": "text-detection", "next": ["rec"]},
            {"name": "rec", "service": "text-recognition"},
        ]
    }
    src = ResolvedSource(
        entry=SourceEntry(id="cam0", mode="rtsp", url="rtsp://cam/0"),
        dag_name="ocr",
        dag=resolve_dag(t, spec),
        spec=spec,
        nodes=list(nodes),
        attach=["jetson-a"],
    )
    deployment = {"text-detection": ["jetson-a", "master"], "text-recognition": ["master"]}
    policy = t.policies["fixed"]
    return planner.stage1(policy) + planner.stage2(policy, [src], {"cam0": "jetson-a"}, deployment, {"cam0": ""})


def test_nodes_roles_and_image_variants() -> None:
    nodes = KubernetesDeployer(FakeApi(), "dayu", "native").nodes()
    assert {n: s.role for n, s in nodes.items()} == {"master": "cloud", "jetson-a": "edge", "edge-b": "edge"}
    images = {w.name: w.image for w in workloads()}
    assert images["processor-text-detection-jetson-a"] == f"docker.io/dayuhub/processor-jetson5:{VERSION}"
    assert images["processor-text-detection-master"] == f"docker.io/dayuhub/processor:{VERSION}"
    assert images["monitor-jetson-a"] == f"docker.io/dayuhub/monitor-jetson5:{VERSION}"
    assert images["controller-jetson-a"] == f"docker.io/dayuhub/controller:{VERSION}"


def test_native_manifests_pass_the_official_schemas() -> None:
    ws = workloads()
    nodes = KubernetesDeployer(FakeApi(), "dayu", "native").nodes()
    objs = [
        *render(ws, nodes, "native", "dayu"),
        topology_configmap(topology_for(ws, nodes, [], "dayu"), "dayu", "dayu"),
    ]
    assert {o["kind"] for o in objs} == {"Deployment", "Service", "ConfigMap"}
    for obj in objs:
        kubernetes_validate.validate(obj, K8S, strict=True)
    dep = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "scheduler")
    assert dep["spec"]["template"]["spec"]["nodeName"] == "master"
    svc = next(o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "scheduler")
    assert svc["spec"]["type"] == "NodePort" and svc["spec"]["ports"][0]["port"] == 9400
    broken = copy.deepcopy(dep)
    broken["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S, strict=True)


def test_sedna_resources_pass_the_real_crd_schema_and_lose_nothing_to_pruning() -> None:
    """The CRD is dayu-sedna's own (vendored): every resource validates against it, and the API server's
    pruning by it drops no field (a dropped field would be silently lost, or refused under strict field
    validation, as kubectl apply asks for)."""
    crd = load_crd(CRD)
    kubernetes_validate.validate(crd, K8S, strict=True)
    schema = version_schema(crd, "v1alpha1")
    nodes = KubernetesDeployer(FakeApi(), "dayu", "sedna").nodes()
    objs = render(workloads(), nodes, "sedna", "dayu")
    for obj in objs:
        assert obj["kind"] == "JointMultiEdgeService"
        jsonschema.validate(obj, schema)
        assert prune(obj, schema)[1] == [], obj["metadata"]["name"]
        worker = obj["spec"].get("cloudWorker") or obj["spec"]["edgeWorker"][0]
        kubernetes_validate.validate(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, **worker["template"]}, K8S, strict=True
        )
    edge = next(o for o in objs if o["metadata"]["name"] == "monitor-jetson-a")
    assert edge["spec"]["edgeWorker"][0]["template"]["spec"]["nodeName"] == "jetson-a"
    assert edge["spec"]["serviceConfig"]["pos"] == "edge"
    bad = copy.deepcopy(edge)
    bad["spec"]["serviceConfig"]["port"] = "9600"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    # Surprising but true of the real CRD: template.metadata is a bare object, so labels there are pruned.
    labelled = copy.deepcopy(edge)
    labelled["spec"]["edgeWorker"][0]["template"]["metadata"] = {"labels": {"dayu.io/workload": "x"}}
    assert prune(labelled, schema)[1] == ["spec.edgeWorker[0].template.metadata.labels"]


async def test_apply_wait_topology_and_removal_by_label() -> None:
    api = FakeApi()
    deployer = KubernetesDeployer(api, "dayu", "native")
    ws = workloads()
    stage1 = [w for w in ws if w.stage == 1]
    await deployer.apply(stage1)
    assert api.applied[0] == "ConfigMap/dayu-topology"
    ready = await deployer.wait_ready([w.name for w in stage1], timeout=2)
    assert {s.name for s in ready} == {w.name for w in stage1} and all(s.ready for s in ready)
    topo = deployer.topology()
    assert topo is not None and topo.component_url("scheduler") == "http://scheduler.dayu.svc:9400"
    await deployer.apply([w for w in ws if w.stage == 2])
    assert isinstance(deployer.topology(), KubernetesTopology)
    assert topo.processor_url("text-recognition", "master") == "http://processor-text-recognition-master.dayu.svc:9600"
    await deployer.remove(["processor-text-recognition-master"])
    assert not any(k[2] == "processor-text-recognition-master" for k in api.objects)
    assert ("ConfigMap", "dayu", "dayu-topology") in api.objects
    await deployer.remove_all()
    assert [k for k in api.objects if k[0] != "Node"] == []


async def test_readiness_timeout_reports_why() -> None:
    api = FakeApi()
    api.ready = False
    deployer = KubernetesDeployer(api, "dayu", "native")
    stage1 = [w for w in workloads() if w.stage == 1]
    await deployer.apply(stage1)
    with pytest.raises(Unavailable) as err:
        await deployer.wait_ready([w.name for w in stage1], timeout=0.5, interval=0.1)
    report = err.value.detail["not_ready"]
    assert {r["name"] for r in report} == {w.name for w in stage1}
    assert "ImagePullBackOff" in report[0]["message"]


async def test_workloads_on_unknown_nodes_and_system_namespaces_are_refused() -> None:
    deployer = KubernetesDeployer(FakeApi(), "dayu", "native")
    w = workloads()[0].model_copy(update={"node": "ghost"})
    with pytest.raises(ConfigError, match="ghost"):
        await deployer.apply([w])
    for ns in ("kube-system", "default", "kube-anything"):
        with pytest.raises(ConfigError, match="system namespace"):
            check_namespace(ns)
    assert check_namespace("dayu") == "dayu"
    assert runtime_selector("dayu") == "dayu.io/plane=runtime,dayu.io/install=dayu"
    assert isinstance(NodeSpec(role="edge"), NodeSpec)
