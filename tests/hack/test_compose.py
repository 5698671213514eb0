"""docker-compose.yml, checked without a Docker engine: the Compose Specification schema (vendored, see
COMPOSE_SPEC.md), the images it runs, its healthchecks, token and volumes, and its topology and configs
against the models the components load them with."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from common.topology import StaticTopology
from tests.hack.images import ROOT, load_images, project_version

pytestmark = pytest.mark.unit

COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = json.loads((Path(__file__).parent / "compose_spec.json").read_text())
IMAGE_REF = re.compile(r"^\$\{REG:-docker\.io\}/\$\{REPO:-dayuhub\}/([a-z0-9-]+):\$\{TAG:-([^}]+)\}$")
CONTAINER_WORK = "/data/work"


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return doc


def schema_errors(doc: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft201909Validator(SCHEMA, format_checker=jsonschema.Draft201909Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def mounted(service: dict[str, Any], target: str) -> str | None:
    for volume in service.get("volumes", []):
        source, _, rest = volume.partition(":")
        if rest.split(":")[0] == target:
            return str(source)
    return None


def test_compose_file_matches_the_compose_specification() -> None:
    assert schema_errors(compose()) == []


def test_schema_refuses_what_compose_would() -> None:
    doc = compose()
    doc["services"]["backend"]["healthcheck"] = {"test": ["CMD", "true"], "every": "10s"}
    doc["services"]["datasource"]["ports"] = [{"target": "not-a-port"}]
    errors = schema_errors(doc)
    assert any("healthcheck" in e for e in errors) and any("ports" in e for e in errors)


def test_every_service_runs_a_built_image_with_healthcheck_and_token() -> None:
    images = load_images()
    services = compose()["services"]
    assert {"backend", "datasource", "scheduler", "distributor"} <= set(services)
    for name, service in services.items():
        match = IMAGE_REF.match(service["image"])
        assert match, f"{name}: image {service['image']} is not REG/REPO/<name>:TAG"
        assert match.group(1) in images, f"{name}: no build target for image {match.group(1)}"
        assert match.group(2) == project_version(), f"{name}: default TAG is not the project version"
        assert service["healthcheck"]["test"] == ["CMD", "python", "/usr/local/lib/dayu/healthcheck.py"]
        assert service["environment"]["DAYU_TOKEN"].startswith("${DAYU_TOKEN:?"), f"{name}: token not required"
        assert "DAYU_PORT" in service["environment"]


def test_dependencies_wait_for_health_and_exist() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for dep, condition in service.get("depends_on", {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            assert condition == {"condition": "service_healthy"}


def test_volumes_are_declared_and_each_node_shares_one_work_dir() -> None:
    doc = compose()
    declared = set(doc["volumes"])
    for name, service in doc["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith("./"):
                assert source in declared, f"{name}: volume {source} is not declared"
            else:
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
    topology = StaticTopology.from_file(ROOT / "hack/docker/compose/topology.yaml")
    by_host = {ep.host: node for node, spec in topology.nodes().items() for ep in spec.components.values()}
    by_host |= {ep.host: node for node, spec in topology.nodes().items() for ep in spec.processors.values()}
    work: dict[str, str] = {}
    for host, node in by_host.items():
        source = mounted(doc["services"][host], CONTAINER_WORK)
        assert source is not None, f"{host} has no work directory"
        assert work.setdefault(node, source) == source, f"{host} does not share node {node}'s work directory"
    assert len(set(work.values())) == len(work), "two nodes share one work directory"


def test_topology_names_the_compose_services_on_their_ports_and_nodes() -> None:
    services = compose()["services"]
    topology = StaticTopology.from_file(ROOT / "hack/docker/compose/topology.yaml")
    assert topology.cloud() == "cloud" and topology.edges() == ["edge1"]
    endpoints = [(node, key, ep) for node, spec in topology.nodes().items() for key, ep in spec.components.items()] + [
        (node, key, ep) for node, spec in topology.nodes().items() for key, ep in spec.processors.items()
    ]
    assert len(endpoints) >= 9
    runtime = {n for n, s in services.items() if "DAYU_NODE" in s["environment"]}
    assert runtime == {ep.host for _, _, ep in endpoints}, "runtime services and topology disagree"
    for node, key, ep in endpoints:
        env = services[ep.host]["environment"]
        assert env["DAYU_NODE"] == node, f"{ep.host} is on {env['DAYU_NODE']}, topology says {node}"
        assert int(env["DAYU_PORT"]) == ep.port, f"{ep.host} listens on {env['DAYU_PORT']}, topology says {ep.port}"
        assert mounted(services[ep.host], env["DAYU_TOPOLOGY"]) == "./hack/docker/compose/topology.yaml"
        component = key.split("/")[0]
        image = IMAGE_REF.match(services[ep.host]["image"])
        assert image and image.group(1) == (component if key in topology.node(node).components else "processor")


def component_config(service: str) -> Any:
    env = compose()["services"][service]["environment"]
    value = env["DAYU_CONFIG"]
    if value.startswith("{"):
        return json.loads(value)
    source = mounted(compose()["services"][service], value)
    assert source, f"{service}: DAYU_CONFIG {value} is not mounted"
    return json.loads((ROOT / source).read_text())


def test_processor_configs_load_with_the_processor_model() -> None:
    from services.processor import config as config_module

    for name in ("cloud-processor-face-detection", "edge1-processor-face-detection"):
        config = config_module.ProcessorConfig.model_validate(component_config(name))
        assert config.service == compose()["services"][name]["environment"]["DAYU_SERVICE"]


def test_generator_config_loads_and_reads_the_datasource() -> None:
    from services.generator import config as config_module

    config = config_module.GeneratorConfig.model_validate(component_config("edge1-generator-cam0"))
    assert config.source.params["url"].startswith("http://datasource:8901/")
    topology = StaticTopology.from_file(ROOT / "hack/docker/compose/topology.yaml")
    assert f"generator/{config.source_id}" in topology.node("edge1").components
    for stage in config.dag.stages:
        for node in config.candidates.get(stage.name, []):
            assert topology.has_processor(stage.service, node), f"{stage.service} has no processor on {node}"
