"""Sedna mode against the dayu-sedna controller as its source behaves, and the API server's CRD rules.

No API server or controller can run here: tests/backend/deploy/fake_cluster.py stands in for both, written from
the controller's source (Deployments ``<cr>-{cloud,edge}worker-<random>`` without labels or owner, one
Service ``lower(<cr>-<pos>)`` over all of a resource's workers owned by a kind no API serves, variables
appended to every container, created once and never deleted, the resource marked Failed) and pruning custom
resources by the vendored CRD as the API server does. tests/backend/deploy/structural.py checks the CRDs
against the documented structural-schema rules.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from backend.deploy import crd_schema, sedna
from backend.deploy.kube_render import WORKLOAD_LABEL, render
from backend.deploy.kubernetes import KubernetesDeployer
from common.errors import Unavailable
from tests.backend.deploy.fake_cluster import FakeCluster
from tests.backend.deploy.structural import structural_errors
from tests.backend.deploy.test_kubernetes import workloads

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[3]
CRDS = REPO / "backend/deploy/crds"
OLD_NAME_LABEL = "jointmultiedgeservice.sedna.io/name"
"""The label the earlier model of the controller looked for: no object ever carries it."""


def deployments(api: FakeCluster, namespace: str = "dayu") -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in api.list_objects("apps/v1", "Deployment", namespace, "")}


def test_the_vendored_crds_are_the_controllers_unmodified() -> None:
    readme = (CRDS / "README.md").read_text()
    for path, short in ((sedna.CRD_FILE, sedna.SHORT_NAME), (CRDS / "sedna.io_runtimeservices.yaml", "rts")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"{digest}  {path.name}" in readme, path.name
        crd = crd_schema.load_crd(path)
        for version in ("1.36.0", "1.37.0"):
            kubernetes_validate.validate(crd, version, strict=True)
        assert structural_errors(crd) == []
        assert crd["spec"]["names"]["shortNames"] == [short]
    assert "Apache License" in (CRDS / "LICENSE").read_text()


def test_the_structural_checker_refuses_what_the_api_server_refuses() -> None:
    crd: Any = copy.deepcopy(sedna.crd())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    cases: dict[str, Callable[[Any], object]] = {
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


async def test_workers_are_found_removed_and_reinstalled_against_the_controller_as_it_is() -> None:
    api = FakeCluster()
    deployer = KubernetesDeployer(api, "dayu", "sedna")
    ws = workloads()
    await deployer.apply(ws)
    assert api.applied.index("CustomResourceDefinition/jointmultiedgeservices.sedna.io") < next(
        i for i, a in enumerate(api.applied) if a.startswith("JointMultiEdgeService/")
    )
    schema = sedna.schema()
    for obj in api.list_objects(sedna.API_VERSION, sedna.KIND, "dayu", ""):
        jsonschema.validate({k: v for k, v in obj.items() if k != "status"}, schema)
        # the controller's own verdict on its second sync, whatever runs: not a readiness signal
        assert obj["status"]["conditions"][-1]["type"] == "Failed"
    assert api.controller_errors == []
    # readiness from the controller's pods, mapped to the resources that carry Dayu's labels
    ready = await deployer.wait_ready([w.name for w in ws], timeout=5, interval=0.05)
    assert {s.name for s in ready} == {w.name for w in ws} and all(s.ready for s in ready)
    by_name = {s.name: s for s in ready}
    assert by_name["processor-text-detection-jetson-a"].node == "jetson-a"
    assert by_name["processor-text-detection-jetson-a"].component == "processor"
    # what the controller made: random-suffix Deployments, one Service per resource selecting all its workers
    deps = deployments(api)
    assert any(re.fullmatch(r"scheduler-cloudworker-[a-z0-9]{5}", n) for n in deps)
    assert any(re.fullmatch(r"monitor-jetson-a-edgeworker-[a-z0-9]{5}", n) for n in deps)
    svc = api.get("v1", "Service", "dayu", "processor-text-detection-jetson-a-edge")
    assert svc is not None
    assert svc["spec"]["selector"] == {sedna.NAME_LABEL: "processor-text-detection-jetson-a"}
    assert svc["metadata"]["labels"][sedna.PROXY_NAME_LABEL] == ""  # only EdgeMesh routes it
    assert svc["metadata"]["ownerReferences"][0]["kind"] == "JointMultiEdge"
    # the controller's variables come after Dayu's and do not shadow any of them
    pod = api.pods("dayu", f"{sedna.NAME_LABEL}=monitor-jetson-a")[0]
    names = [e["name"] for e in pod["spec"]["containers"][0]["env"]]
    assert names[-6:] == list(sedna.CONTROLLER_ENV) and len(set(names)) == len(names)
    # discovery: the Service the controller made, lower(<cr>-<pos>)
    topo = deployer.topology()
    assert topo is not None
    assert topo.component_url("scheduler") == "http://scheduler-cloud.dayu.svc:9400"
    assert topo.processor_url("text-detection", "jetson-a") == (
        "http://processor-text-detection-jetson-a-edge.dayu.svc:9600"
    )
    assert topo.component_url("generator/cam0", "jetson-a").startswith("http://generator-cam0-edge.dayu.svc:")
    mounted = json.loads(api.get("v1", "ConfigMap", "dayu", "dayu-topology")["data"]["topology.json"])  # type: ignore[index]
    assert mounted["nodes"]["master"]["components"]["scheduler"]["host"] == "scheduler-cloud.dayu.svc"
    # removal: the resource, its Service and the controller's Deployments (nothing else would delete them)
    await deployer.remove(["processor-text-detection-jetson-a"])
    assert not [n for n in deployments(api) if n.startswith("processor-text-detection-jetson-a-")]
    assert api.get("v1", "Service", "dayu", "processor-text-detection-jetson-a-edge") is None
    assert api.pods("dayu", f"{sedna.NAME_LABEL}=processor-text-detection-jetson-a") == []
    # re-installing the same name makes its edge worker again (a left-over Service would have stopped it)
    again = next(w for w in ws if w.name == "processor-text-detection-jetson-a")
    await deployer.apply([again])
    assert (await deployer.wait_ready([again.name], timeout=5, interval=0.05))[0].ready
    assert api.controller_errors == []
    await deployer.remove_all()
    assert [k for k in api.objects if k[0] not in ("Node", "CustomResourceDefinition")] == []


async def test_the_earlier_model_of_the_controller_fails_against_it() -> None:
    """What the code assumed before (labels ``jointmultiedgeservice.sedna.io/*``, Dayu's labels on the pods,
    pods and Services removed by those labels) meets the controller as it is: waiting by those labels times
    out, and a removal by them leaves Deployments and the Service, so the next resource of the same name
    never gets its edge worker."""
    api = FakeCluster()
    deployer = KubernetesDeployer(api, "dayu", "sedna")
    w = next(w for w in workloads() if w.name == "monitor-jetson-a")
    await deployer.apply([w])
    assert len(api.pods("dayu", f"{sedna.NAME_LABEL}={w.name}")) == 1
    assert api.pods("dayu", OLD_NAME_LABEL) == []
    assert api.pods("dayu", f"{WORKLOAD_LABEL}={w.name}") == []  # the CRD pruned the template's labels
    # the earlier removal: the resource, then pods and Services by the old label (which match nothing)
    api.delete_named(sedna.API_VERSION, sedna.KIND, "dayu", w.name)
    for kind in ("Pod", "Service"):
        assert api.delete("v1", kind, "dayu", f"{OLD_NAME_LABEL}={w.name}") == 0
    assert [n for n in deployments(api) if n.startswith(f"{w.name}-edgeworker-")]
    assert api.get("v1", "Service", "dayu", f"{w.name}-edge") is not None  # its owner kind never resolves
    # the earlier re-install: the resource applied again
    (obj,) = render([w], deployer.nodes(), "sedna", "dayu")
    api.apply(obj)
    assert api.controller_errors == [f'dayu/{w.name}: Service "{w.name}-edge" already exists']
    assert len(deployments(api)) == 1  # still only the first worker; the new resource has none
    # the deployer as it is now cleans that up before it creates the resource again
    await deployer.apply([w.model_copy(update={"env": {**w.env, "X": "1"}})])
    assert len(deployments(api)) == 1 and len(api.pods("dayu", f"{sedna.NAME_LABEL}={w.name}")) == 1
    assert (await deployer.wait_ready([w.name], timeout=5, interval=0.05))[0].ready


async def test_a_changed_workload_is_replaced_not_patched() -> None:
    """The controller creates workers once: an update of the resource would never reach the running pod."""
    api = FakeCluster()
    deployer = KubernetesDeployer(api, "dayu", "sedna")
    scheduler = next(w for w in workloads() if w.name == "scheduler")
    await deployer.apply([scheduler])
    first = api.pods("dayu", f"{sedna.NAME_LABEL}=scheduler")
    await deployer.apply([scheduler])  # unchanged: left as it runs
    assert api.pods("dayu", f"{sedna.NAME_LABEL}=scheduler") == first
    changed = scheduler.model_copy(update={"config": {**scheduler.config, "agent": {"alias": "cloud-only"}}})
    await deployer.apply([changed])
    pods = api.pods("dayu", f"{sedna.NAME_LABEL}=scheduler")
    assert len(pods) == 1 and pods[0]["metadata"]["name"] != first[0]["metadata"]["name"]
    env = {e["name"]: e.get("value") for e in pods[0]["spec"]["containers"][0]["env"]}
    assert json.loads(env["DAYU_CONFIG"])["agent"] == {"alias": "cloud-only"}
    assert len(api.services("dayu", f"{sedna.NAME_LABEL}=scheduler")) == 1
    assert len([n for n in deployments(api) if n.startswith("scheduler-cloudworker-")]) == 1


async def test_a_redeploy_starts_new_resources_beside_the_old_then_removes_the_old() -> None:
    api = FakeCluster()
    deployer = KubernetesDeployer(api, "dayu", "sedna")
    ws = workloads()
    old = next(w for w in ws if w.name == "processor-text-detection-jetson-a")
    await deployer.apply(ws)
    new = old.model_copy(update={"name": "processor-text-detection-edge-b", "node": "edge-b"})
    await deployer.apply([new])
    assert (await deployer.wait_ready([new.name], timeout=5, interval=0.05))[0].node == "edge-b"
    assert {s.name for s in await deployer.status()} >= {old.name, new.name}
    await deployer.remove([old.name])
    names = {s.name for s in await deployer.status()}
    assert new.name in names and old.name not in names
    assert not [n for n in deployments(api) if n.startswith(f"{old.name}-")]
    assert [n for n in deployments(api) if n.startswith(f"{new.name}-edgeworker-")]


async def test_removal_waits_until_the_pods_are_gone_and_touches_nothing_else() -> None:
    api = FakeCluster(terminating_reads=3)
    ours = KubernetesDeployer(api, "dayu", "sedna")
    theirs = KubernetesDeployer(api, "lab", "sedna")
    ws = workloads()
    await ours.apply(ws)
    await theirs.apply(ws)
    # a Deployment of someone else whose name merely starts like the controller's
    lookalike = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "scheduler-cloudworker-mine1", "namespace": "dayu"},
        "spec": {
            "selector": {"matchLabels": {"app": "mine"}},
            "template": {"metadata": {"labels": {"app": "mine"}}, "spec": {"containers": []}},
        },
    }
    api.apply(lookalike)
    lab_before = {k for k in api.objects if k[1] == "lab"}
    ours.poll_interval = 0.0
    await ours.remove(["scheduler"])
    assert api.pods("dayu", f"{sedna.NAME_LABEL}=scheduler") == []  # gone, not merely terminating
    assert "scheduler-cloudworker-mine1" in deployments(api)
    await ours.remove_all()
    assert {k for k in api.objects if k[1] == "lab"} == lab_before
    assert set(deployments(api)) == {"scheduler-cloudworker-mine1"}
    # a pod that never goes: the removal says so after its timeout instead of waiting for ever
    stuck = FakeCluster(terminating_reads=10**6)
    deployer = KubernetesDeployer(stuck, "dayu", "sedna")
    await deployer.apply(ws[:1])
    deployer.removal_timeout, deployer.poll_interval = 0.2, 0.01
    with pytest.raises(Unavailable, match="still there") as err:
        await deployer.remove([ws[0].name])
    assert any(item.startswith("Pod/") for item in err.value.detail["left"])


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
