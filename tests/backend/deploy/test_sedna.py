"""Sedna mode against the behaviour of the dayu-sedna controller and the API server's CRD rules.

No API server or controller can run here: tests/backend/deploy/fake_cluster.py stands in for both, behaving
as the controller is documented to (Services ``<name>-<worker-type>``, only its own labels on pods and
Services, no owner references, pods created once), and tests/backend/deploy/structural.py checks the CRD
against the documented structural-schema rules.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from backend.deploy import sedna
from backend.deploy.kubernetes import KubernetesDeployer
from common.errors import Unavailable
from tests.backend.deploy.fake_cluster import FakeCluster
from tests.backend.deploy.structural import structural_errors
from tests.backend.deploy.test_kubernetes import workloads

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[3]


def test_the_crd_is_structural_and_keeps_both_short_names() -> None:
    crd = yaml.safe_load(sedna.CRD_FILE.read_text())
    for version in ("1.36.0", "1.37.0"):
        kubernetes_validate.validate(crd, version, strict=True)
    assert structural_errors(crd) == []
    assert {"jmes", "jme"} <= set(crd["spec"]["names"]["shortNames"])


def test_the_structural_checker_refuses_what_the_api_server_refuses() -> None:
    crd = yaml.safe_load(sedna.CRD_FILE.read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    cases = {
        "mutually exclusive": lambda s: s.update(additionalProperties=False),
        "type must be set": lambda s: s["properties"]["serviceConfig"]["properties"]["port"].pop("type"),
        "uniqueItems": lambda s: s["properties"]["edgeWorker"].update(uniqueItems=True),
        "inside allOf": lambda s: s.update(allOf=[{"properties": {"serviceConfig": {"type": "object"}}}]),
        "not outside": lambda s: s.update(anyOf=[{"properties": {"ghost": {}}}]),
        "may only be true": lambda s: s["properties"]["cloudWorker"]["properties"]["template"].update(
            {"x-kubernetes-preserve-unknown-fields": False}
        ),
    }
    for problem, edit in cases.items():
        broken = copy.deepcopy(crd)
        edit(broken["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"])
        errors = structural_errors(broken)
        assert any(problem in e for e in errors), (problem, errors)
    meta = copy.deepcopy(crd)
    meta["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["metadata"] = {
        "type": "object",
        "properties": {"labels": {"type": "object"}},
    }
    assert any("only name and generateName" in e for e in structural_errors(meta))
    assert spec["type"] == "object"


async def test_resources_follow_the_controller_naming_labels_and_lifecycle() -> None:
    api = FakeCluster()
    deployer = KubernetesDeployer(api, "dayu", "sedna")
    ws = workloads()
    await deployer.apply(ws)
    assert api.applied.index("CustomResourceDefinition/jointmultiedgeservices.sedna.io") < next(
        i for i, a in enumerate(api.applied) if a.startswith("JointMultiEdgeService/")
    )
    schema = sedna.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for obj in api.list_objects(sedna.API_VERSION, sedna.KIND, "dayu", ""):
        jsonschema.validate({k: v for k, v in obj.items() if k != "status"}, schema)
    # readiness from the controller's pods, which carry only the controller's labels
    ready = await deployer.wait_ready([w.name for w in ws], timeout=2)
    assert {s.name for s in ready} == {w.name for w in ws} and all(s.ready for s in ready)
    by_name = {s.name: s for s in ready}
    assert by_name["processor-text-detection-jetson-a"].node == "jetson-a"
    # discovery: the Service the controller made, <name>-<worker-type>
    topo = deployer.topology()
    assert topo is not None
    assert topo.component_url("scheduler") == "http://scheduler-cloud.dayu.svc:9400"
    assert topo.processor_url("text-detection", "jetson-a") == (
        "http://processor-text-detection-jetson-a-edge.dayu.svc:9600"
    )
    assert topo.component_url("generator/cam0", "jetson-a").startswith("http://generator-cam0-edge.dayu.svc:")
    # the topology every component reads names the same Services
    mounted = json.loads(api.get("v1", "ConfigMap", "dayu", "dayu-topology")["data"]["topology.json"])  # type: ignore[index]
    assert mounted["nodes"]["master"]["components"]["scheduler"]["host"] == "scheduler-cloud.dayu.svc"
    # removal: the controller's pods and Services go too (nothing else would delete them)
    await deployer.remove(["processor-text-detection-jetson-a"])
    leftovers = api.list_objects("v1", "Pod", "dayu", f"{sedna.NAME_LABEL}=processor-text-detection-jetson-a")
    leftovers += api.list_objects("v1", "Service", "dayu", f"{sedna.NAME_LABEL}=processor-text-detection-jetson-a")
    assert leftovers == []
    await deployer.remove_all()
    assert [k for k in api.objects if k[0] not in ("Node", "CustomResourceDefinition")] == []


async def test_a_changed_workload_is_replaced_not_patched() -> None:
    """The controller creates pods once: an update of the resource would never reach the running pod."""
    api = FakeCluster()
    deployer = KubernetesDeployer(api, "dayu", "sedna")
    scheduler = next(w for w in workloads() if w.name == "scheduler")
    await deployer.apply([scheduler])
    first = api.list_objects("v1", "Pod", "dayu", f"{sedna.NAME_LABEL}=scheduler")
    await deployer.apply([scheduler])  # unchanged: left as it runs
    assert api.list_objects("v1", "Pod", "dayu", f"{sedna.NAME_LABEL}=scheduler") == first
    changed = scheduler.model_copy(update={"config": {**scheduler.config, "agent": {"alias": "cloud-only"}}})
    await deployer.apply([changed])
    pods = api.list_objects("v1", "Pod", "dayu", f"{sedna.NAME_LABEL}=scheduler")
    assert len(pods) == 1 and pods[0]["metadata"]["name"] != first[0]["metadata"]["name"]
    env = {e["name"]: e.get("value") for e in pods[0]["spec"]["containers"][0]["env"]}
    assert json.loads(env["DAYU_CONFIG"])["agent"] == {"alias": "cloud-only"}
    assert len(api.list_objects("v1", "Service", "dayu", f"{sedna.NAME_LABEL}=scheduler")) == 1


async def test_a_cluster_without_the_crd_rights_or_controller_gets_a_clear_error() -> None:
    api = FakeCluster(crd_forbidden=True)
    deployer = KubernetesDeployer(api, "dayu", "sedna")
    with pytest.raises(Unavailable, match="CRD is not installed"):
        await deployer.apply(workloads()[:1])
    assert api.list_objects(sedna.API_VERSION, sedna.KIND, "dayu", "") == []
    idle = FakeCluster(sedna_controller=False)
    deployer = KubernetesDeployer(idle, "dayu", "sedna")
    w = workloads()[0]
    await deployer.apply([w])
    resource = idle.objects[(sedna.KIND, "dayu", w.name)]
    resource["metadata"]["creationTimestamp"] = "2020-01-01T00:00:00Z"
    with pytest.raises(Unavailable) as err:
        await deployer.wait_ready([w.name], timeout=0.3, interval=0.1)
    assert "dayu-sedna controller" in err.value.detail["not_ready"][0]["message"]


def test_long_names_still_give_valid_service_names() -> None:
    name = "processor-" + "x" * 53
    resource = sedna.resource_name(name)
    assert len(sedna.service_name(resource, "edge")) <= 63
    assert resource != sedna.resource_name(name[:-1] + "y")
