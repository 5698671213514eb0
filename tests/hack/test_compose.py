"""docker-compose.yml, checked without a Docker engine: the Compose Specification schema (vendored, see
COMPOSE_SPEC.md), the images it runs, its healthchecks, token and volumes, host networking with a port of
its own per container, and its topology and configs against the models the components load them with and
against what the backend plans for the default install. `make image-smoke` runs the stack for real."""

from __future__ import annotations

import json
import re
from collections import Counter
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


def interpolated(**env: str) -> dict[str, Any]:
    """The file as compose reads it with ``env`` set (else the defaults), as compose's ${VAR:-default} does."""

    def value(match: re.Match[str]) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if name in env:
            return env[name]
        assert op != ":?", f"${name} is required"
        return rest

    text = re.sub(r"\$\{([A-Z0-9_]+)(:-|:\?)([^}]*)\}", value, COMPOSE.read_text())
    doc: dict[str, Any] = yaml.safe_load(text)
    return doc


def topology(doc: dict[str, Any]) -> StaticTopology:
    return StaticTopology.from_text(doc["services"]["backend"]["environment"]["DAYU_TOPOLOGY"])


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


def test_host_networking_with_a_port_of_its_own_per_container() -> None:
    doc = interpolated(DAYU_TOKEN="t")
    ports = Counter(int(s["environment"]["DAYU_PORT"]) for s in doc["services"].values())
    assert all(n == 1 for n in ports.values()), ports
    for name, service in doc["services"].items():
        assert service["network_mode"] == "host", name
        assert "ports" not in service and "networks" not in service, name
    moved = interpolated(DAYU_TOKEN="t", DAYU_SCHEDULER_PORT="41234", DAYU_BACKEND_PORT="41235")
    assert str(moved["services"]["scheduler"]["environment"]["DAYU_PORT"]) == "41234"
    assert topology(moved).component_url("scheduler") == "http://127.0.0.1:41234"
    assert str(moved["services"]["backend"]["environment"]["DAYU_PORT"]) == "41235"


def by_port(doc: dict[str, Any]) -> dict[int, str]:
    return {int(s["environment"]["DAYU_PORT"]): n for n, s in doc["services"].items()}


def endpoints(topo: StaticTopology) -> list[tuple[str, str, Any]]:
    nodes = topo.nodes().items()
    return [(n, k, ep) for n, spec in nodes for k, ep in [*spec.components.items(), *spec.processors.items()]]


def test_topology_names_every_runtime_container_on_its_node_and_port() -> None:
    doc = interpolated(DAYU_TOKEN="t")
    services, topo = doc["services"], topology(doc)
    assert topo.cloud() == "cloud" and topo.edges() == ["edge1"]
    found = endpoints(topo)
    owners = by_port(doc)
    runtime = {n for n, s in services.items() if "DAYU_NODE" in s["environment"]}
    assert runtime == {owners[ep.port] for _, _, ep in found}, "runtime services and topology disagree"
    for node, key, ep in found:
        name = owners[ep.port]
        env = services[name]["environment"]
        assert ep.host == "127.0.0.1" and env["DAYU_HOST"] == "127.0.0.1", name
        assert env["DAYU_NODE"] == node, f"{name} is on {env['DAYU_NODE']}, topology says {node}"
        assert env["DAYU_TOPOLOGY"] == services["backend"]["environment"]["DAYU_TOPOLOGY"], name
        component = key.split("/")[0]
        image = IMAGE_REF.match(compose()["services"][name]["image"])
        assert image and image.group(1) == (component if key in topo.node(node).components else "processor")


def test_volumes_are_declared_and_each_node_shares_one_work_dir() -> None:
    doc = interpolated(DAYU_TOKEN="t")
    declared = set(doc["volumes"])
    for name, service in doc["services"].items():
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in declared, f"{name}: volume {volume} is not declared"
    owners = by_port(doc)
    work: dict[str, str] = {}
    for node, _, ep in endpoints(topology(doc)):
        source = mounted(doc["services"][owners[ep.port]], CONTAINER_WORK)
        assert source is not None, f"{owners[ep.port]} has no work directory"
        assert work.setdefault(node, source) == source, f"{owners[ep.port]} does not share {node}'s work directory"
    assert len(set(work.values())) == len(work), "two nodes share one work directory"
    assert mounted(doc["services"]["datasource"], "/data") == "datasource-data"


def component_config(service: str) -> Any:
    return json.loads(interpolated(DAYU_TOKEN="t")["services"][service]["environment"]["DAYU_CONFIG"])


def test_the_backend_installs_onto_the_stack_and_reads_the_datasource() -> None:
    env = interpolated(DAYU_TOKEN="t", DAYU_DATASOURCE_PORT="41000")["services"]["backend"]["environment"]
    assert env["DAYU_DEPLOYER"] == "compose"
    assert env["DAYU_DATASOURCE_URL"] == "http://127.0.0.1:41000"


def test_configs_are_what_the_backend_plans_for_the_default_install() -> None:
    """The containers run the configs the backend would deploy for the default install (default policy,
    default DAG on every source of the default datasource), generators closed until opened."""
    from backend.datasource_config import parse_datasource
    from backend.planner import Planner, ResolvedSource, resolve_dag
    from backend.templates import load_template
    from services.generator.config import GeneratorConfig
    from services.processor.config import ProcessorConfig

    template = load_template(ROOT / "template")
    doc = interpolated(DAYU_TOKEN="t")
    topo = topology(doc)
    planner = Planner(template, topo.nodes(), None)
    policy = template.policies[template.base.defaults.policy]
    assert component_config("scheduler") == planner.scheduler_config(policy)
    monitor = template.component(policy.monitor).config
    assert component_config("cloud-monitor") == component_config("edge1-monitor") == monitor
    for name in ("cloud-processor-face-detection", "edge1-processor-face-detection"):
        config = component_config(name)
        ProcessorConfig.model_validate(config)
        assert config == {**template.component(template.services["face-detection"].template).config,
                          "service": "face-detection"}  # fmt: skip
    path = template.path(template.base.defaults.datasource)
    datasource = parse_datasource(path.read_text(), path.name)
    spec = template.base.dags[template.base.defaults.dag].model_dump(mode="json")
    deployment = {"face-detection": ["cloud", "edge1"]}
    generator = template.component(policy.generator).config
    ds_port = doc["services"]["datasource"]["environment"]["DAYU_PORT"]
    for entry in datasource.sources:
        name = f"edge1-generator-{entry.id}"
        config = component_config(name)
        GeneratorConfig.model_validate(config)
        src = ResolvedSource(entry=entry, dag_name="d", dag=resolve_dag(template, spec), spec=spec,
                             nodes=["cloud", "edge1"], attach=["edge1"])  # fmt: skip
        url = f"http://127.0.0.1:{ds_port}/streams/{entry.id}"
        assert config == {**generator, **planner.generator_config(src, deployment, url)}, name
        assert config["autostart"] is False
        assert f"generator/{entry.id}" in topo.node("edge1").components
        for service_nodes in config["candidates"].values():
            assert all(topo.has_processor("face-detection", n) for n in service_nodes)
