"""Runtime-service mode: one RuntimeService per workload and revision, readiness from its ``Ready`` condition,
peers at ``status.endpoint.dnsName``.

No API server or controller can run here: tests/backend/deploy/fake_cluster.py stands in for both, its
RuntimeService controller written from dayu-sedna's docs/runtime-service.md, the API types and the
controller's validation (owned Deployment and ClusterIP Service of the same name, refusals in
``SpecAccepted``, ``Activated`` held until the node's EdgeMesh acknowledges). Renders are checked against
the vendored CRD (backend/deploy/crds/sedna.io_runtimeservices.yaml), including its pruning.
"""

from __future__ import annotations

import copy
import json

import jsonschema
import kubernetes_validate
import pytest

from backend.deploy import crd_schema
from backend.deploy import runtime_service as rts
from backend.deploy.kube_render import render
from backend.deploy.kubernetes import KubernetesDeployer
from common.errors import Unavailable
from tests.backend.deploy.fake_cluster import FakeCluster, rts_validation
from tests.backend.deploy.test_kubernetes import workloads

pytestmark = pytest.mark.unit
K8S = "1.37.0"


def names(api: FakeCluster) -> set[str]:
    return api.names(rts.KIND, "dayu")


def test_renders_pass_the_real_crd_and_the_controllers_checks() -> None:
    nodes = KubernetesDeployer(FakeCluster(), "dayu", "runtime-service").nodes()
    objs = render(workloads(), nodes, "runtime-service", "dayu", revision=3)
    schema = rts.schema()
    for obj in objs:
        assert obj["kind"] == "RuntimeService" and obj["metadata"]["name"].endswith("-r3")
        jsonschema.validate(obj, schema)
        assert crd_schema.prune(obj, schema)[1] == []  # the pod template's labels are typed: kept
        assert rts_validation(obj) == ""
        pod = obj["spec"]["podTemplate"]
        assert pod["spec"]["automountServiceAccountToken"] is False
        kubernetes_validate.validate(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, **pod}, K8S, strict=True
        )
    proc = next(o for o in objs if o["metadata"]["labels"].get("dayu.io/service") == "text-detection")
    assert proc["spec"]["logicalService"] == "text-detection" and proc["spec"]["component"] == "processor"
    assert proc["spec"]["targetNode"] == proc["spec"]["podTemplate"]["spec"]["nodeName"]
    bad = copy.deepcopy(proc)
    bad["spec"]["deploymentRevision"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    assert rts.resource_name("x" * 80, 12).endswith("-r12") and len(rts.resource_name("x" * 80, 12)) <= 63
    assert rts.resource_name("1cam_A", 1)[0].isalpha()


async def test_readiness_comes_from_the_ready_condition_and_peers_from_the_dns_name() -> None:
    api = FakeCluster()
    api.activation = False  # pods run, but the node's EdgeMesh has not acknowledged them yet
    deployer = KubernetesDeployer(api, "dayu", "runtime-service")
    ws = workloads()
    await deployer.apply(ws)
    assert api.crd_established(rts.CRD_NAME)
    assert names(api) == {rts.resource_name(w.name, 1) for w in ws}
    with pytest.raises(Unavailable) as err:
        await deployer.wait_ready([w.name for w in ws], timeout=0.2, interval=0.05)
    assert {r["message"] for r in err.value.detail["not_ready"]} == {"Activated: AwaitingNodeAck"}
    api.activation = True
    ready = await deployer.wait_ready([w.name for w in ws], timeout=5, interval=0.05)
    assert all(s.ready and s.phase == "running" for s in ready) and len(ready) == len(ws)
    assert next(s for s in ready if s.name == "processor-text-detection-jetson-a").node == "jetson-a"
    topo = deployer.topology()
    assert topo is not None
    assert topo.component_url("scheduler") == "http://scheduler-r1.dayu.svc.cluster.local:9400"
    assert topo.processor_url("text-detection", "jetson-a") == (
        "http://processor-text-detection-jetson-a-r1.dayu.svc.cluster.local:9600"
    )
    mounted = json.loads(api.get("v1", "ConfigMap", "dayu", "dayu-topology")["data"]["topology.json"])  # type: ignore[index]
    assert mounted["nodes"]["master"]["components"]["scheduler"]["host"] == "scheduler-r1.dayu.svc.cluster.local"
    # what the controller made, under the same name, owned by the RuntimeService
    deployment = api.get("apps/v1", "Deployment", "dayu", "scheduler-r1")
    service = api.get("v1", "Service", "dayu", "scheduler-r1")
    assert deployment is not None and service is not None
    assert service["spec"]["type"] == "ClusterIP" and service["spec"]["ports"][0]["name"] == "runtime"
    assert deployment["metadata"]["ownerReferences"][0]["kind"] == "RuntimeService"


async def test_a_redeploy_is_a_new_revision_and_the_old_goes_once_the_new_is_ready() -> None:
    api = FakeCluster()
    deployer = KubernetesDeployer(api, "dayu", "runtime-service")
    ws = workloads()
    await deployer.apply(ws)
    await deployer.wait_ready([w.name for w in ws], timeout=5, interval=0.05)
    await deployer.apply(ws)  # unchanged: no new revision
    assert names(api) == {rts.resource_name(w.name, 1) for w in ws}
    scheduler = next(w for w in ws if w.name == "scheduler")
    changed = scheduler.model_copy(update={"config": {**scheduler.config, "agent": {"alias": "cloud-only"}}})
    api.activation = False
    await deployer.apply([changed])
    assert {"scheduler-r1", "scheduler-r2"} <= names(api)  # the old one serves until the new one is Ready
    statuses = {s.name: s for s in await deployer.status()}
    assert not statuses["scheduler"].ready and "scheduler-r1" in names(api)
    topo = deployer.topology()
    assert topo is not None and topo.component_url("scheduler").startswith("http://scheduler-r1.")
    api.activation = True
    await deployer.wait_ready(["scheduler"], timeout=5, interval=0.05)
    assert "scheduler-r1" not in names(api) and "scheduler-r2" in names(api)
    assert api.get("apps/v1", "Deployment", "dayu", "scheduler-r1") is None  # its children went with it
    assert topo.component_url("scheduler").startswith("http://scheduler-r2.")
    pod = api.pods("dayu", "dayu.io/runtime-id=scheduler-r2")[0]
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert json.loads(env["DAYU_CONFIG"])["agent"] == {"alias": "cloud-only"}
    # why a new revision: the controller refuses a changed spec under an existing name
    obj = api.get(rts.API_VERSION, rts.KIND, "dayu", "scheduler-r2")
    assert obj is not None
    obj["spec"]["podTemplate"]["spec"]["containers"][0]["image"] = "other:1"
    api.apply({k: v for k, v in obj.items() if k != "status"})
    refused = {s.name: s for s in await deployer.status()}["scheduler"]
    assert refused.phase == "failed" and "immutable" in refused.message


async def test_removal_deletes_every_revision_and_waits_for_the_pods() -> None:
    api = FakeCluster(terminating_reads=3)
    deployer = KubernetesDeployer(api, "dayu", "runtime-service")
    other = KubernetesDeployer(api, "lab", "runtime-service")
    ws = workloads()
    await deployer.apply(ws)
    await other.apply(ws)
    lab = {k for k in api.objects if k[1] == "lab"}
    deployer.poll_interval = 0.0
    await deployer.remove(["scheduler"])
    assert "scheduler-r1" not in names(api)
    assert api.pods("dayu", "dayu.io/runtime-id=scheduler-r1") == []
    await deployer.remove_all()
    assert [k for k in api.objects if k[1] == "dayu"] == []
    assert {k for k in api.objects if k[1] == "lab"} == lab
