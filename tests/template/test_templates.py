"""The default template loads; broken templates are refused with the file and the line; YAML-only extension."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from backend.planner import Planner, image_for
from backend.templates import load_template
from common.errors import ConfigError
from common.topology import NodeSpec

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


@pytest.fixture
def tpl(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "template", tmp_path / "t")
    return tmp_path / "t"


def test_default_template_loads() -> None:
    t = load_template(REPO / "template")
    assert t.base.runtime == "local" and t.base.defaults.policy in t.policies
    assert [n for n, s in t.base.local.nodes.items() if s.role == "cloud"] == ["cloud"]
    assert all(link.bandwidth_mbps for link in t.base.local.links)
    assert t.services["text-recognition"].input == "bbox"


def test_a_bad_field_names_file_and_line(tpl: Path) -> None:
    text = (tpl / "base.yaml").read_text().replace("runtime: local ", "runtime: moon  ")
    (tpl / "base.yaml").write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith("runtime:"))
    with pytest.raises(ConfigError, match=rf"base.yaml:{line}: runtime"):
        load_template(tpl)


def test_a_catalog_error_names_its_file_and_line(tpl: Path) -> None:
    path = tpl / "services.yaml"
    path.write_text(path.read_text().replace("template: processor/plate-detection.yaml", "template: processor/x.yaml"))
    line = next(i for i, row in enumerate(path.read_text().splitlines(), 1) if "processor/x.yaml" in row)
    with pytest.raises(ConfigError, match=rf"services.yaml:{line}: no such component template"):
        load_template(tpl)
    path.write_text(path.read_text().replace("processor/x.yaml", "scheduler/fixed.yaml"))
    with pytest.raises(ConfigError, match="is a scheduler template, not a processor one"):
        load_template(tpl)


def test_unknown_keys_and_bad_yaml_are_refused(tpl: Path) -> None:
    (tpl / "processor" / "face-detection.yaml").write_text(
        "component: processor\nimage: p\nposition: both\nport: 1\nbogus: 1\n"
    )
    with pytest.raises(ConfigError, match=r"face-detection.yaml:5: bogus"):
        load_template(tpl)
    (tpl / "scheduler_policies.yaml").write_text("- id: [unclosed\n")
    with pytest.raises(ConfigError, match=r"scheduler_policies.yaml:\d+: invalid YAML"):
        load_template(tpl)


def test_default_dag_must_use_known_services(tpl: Path) -> None:
    path = tpl / "base.yaml"
    path.write_text(path.read_text().replace("service: face-detection}", "service: nope}"))
    with pytest.raises(ConfigError, match=r"base.yaml:\d+: DAG 'face-detection': .*unknown service 'nope'"):
        load_template(tpl)


def test_policy_and_service_are_added_with_yaml_only(tpl: Path) -> None:
    with (tpl / "scheduler_policies.yaml").open("a") as fh:
        fh.write(
            "- id: my-policy\n  name: Mine\n  scheduler: scheduler/mine.yaml\n  generator: generator/default.yaml\n"
            "  controller: controller/default.yaml\n  distributor: distributor/default.yaml\n"
            "  monitor: monitor/default.yaml\n"
        )
    (tpl / "scheduler" / "mine.yaml").write_text(
        "component: scheduler\nimage: scheduler\nposition: cloud\nport: 9400\nconfig: {agent: {alias: fixed}}\n"
    )
    with (tpl / "services.yaml").open("a") as fh:
        fh.write("- id: people\n  name: People\n  input: frame\n  output: bbox\n  template: processor/people.yaml\n")
    (tpl / "processor" / "people.yaml").write_text(
        "component: processor\nimage: processor\ngpu_variants: true\nposition: both\nport: 9600\n"
        "config: {application: {alias: pedestrian-detection}}\n"
    )
    t = load_template(tpl)
    assert "my-policy" in t.policies and "people" in t.services


def test_image_variant_follows_node_labels() -> None:
    t = load_template(REPO / "template")
    proc = t.component("processor/face-detection.yaml")
    sched = t.component("scheduler/fixed.yaml")
    plain = NodeSpec(role="edge", arch="arm64")
    jetson = NodeSpec(role="edge", arch="arm64", labels={"dayu.io/jetson": "5"})
    gpu = NodeSpec(role="cloud", labels={"nvidia.com/gpu.present": "true"})
    assert image_for(t, proc, plain) == f"docker.io/dayuhub/processor:{VERSION}"
    assert image_for(t, proc, jetson) == f"docker.io/dayuhub/processor-jetson5:{VERSION}"
    assert image_for(t, proc, gpu) == f"docker.io/dayuhub/processor-gpu:{VERSION}"
    assert image_for(t, sched, jetson) == f"docker.io/dayuhub/scheduler:{VERSION}"


def test_stage_one_workloads() -> None:
    t = load_template(REPO / "template")
    nodes = {n: NodeSpec(role=s.role) for n, s in t.base.local.nodes.items()}
    workloads = Planner(t, nodes, "tok").stage1(t.policies["fixed"])
    assert sorted(w.name for w in workloads) == [
        "distributor",
        "monitor-cloud",
        "monitor-edge1",
        "monitor-edge2",
        "scheduler",
    ]
    assert all(w.stage == 1 and w.env["DAYU_TOKEN"] == "tok" for w in workloads)
    assert next(w for w in workloads if w.name == "scheduler").config["agent"]["alias"] == "fixed"


def test_default_image_tag_is_the_version_the_image_builds_default_to() -> None:
    """hack/build.sh tags images with the version in pyproject.toml unless TAG says otherwise."""
    assert load_template(REPO / "template").base.image.tag == VERSION


def test_a_template_without_an_image_tag_uses_the_project_version(tpl: Path) -> None:
    base = tpl / "base.yaml"
    lines = [line for line in base.read_text().splitlines() if not line.strip().startswith("tag:")]
    base.write_text("\n".join(lines) + "\n")
    assert load_template(tpl).base.image.tag == VERSION
