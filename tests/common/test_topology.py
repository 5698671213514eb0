"""Topology: from a YAML/JSON file and from the environment; bad topologies refused; lookups."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from common.errors import ConfigError, NotFound
from common.shaping import LinkSpec
from common.topology import (
    Endpoint,
    LinkModel,
    NodeSpec,
    StaticTopology,
    Topology,
    TopologyFile,
    TopologyModel,
    WatchedTopology,
)

pytestmark = pytest.mark.unit

YAML = """\
nodes:
  cloud:
    role: cloud
    components:
      controller: {port: 9000}
      distributor: {port: 9001}
      scheduler: {port: 9002}
    processors:
      text-recognition: {port: 9100}
  edge1:
    role: edge
    arch: arm64
    work_dir: /tmp/edge1
    components:
      controller: {host: "::1", port: 9010}
      generator/cam-1: {port: 9011}
    processors:
      text-detection: {port: 9110}
links:
  - {a: edge1, b: cloud, bandwidth_mbps: 8, latency_ms: 20}
"""


def write(tmp_path: Path, text: str, name: str = "topology.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def check(topology: Topology) -> None:
    assert topology.cloud() == "cloud" and topology.edges() == ["edge1"]
    assert topology.component_url("scheduler") == "http://127.0.0.1:9002"
    assert topology.component_url("controller", "edge1") == "http://[::1]:9010"
    assert topology.processor_url("text-detection", "edge1") == "http://127.0.0.1:9110"
    assert topology.has_processor("text-recognition", "cloud") and not topology.has_processor("x", "nowhere")
    assert topology.nodes_with("text-detection") == ["edge1"]
    assert topology.link_to("cloud", "edge1") == LinkSpec(bandwidth_mbps=8, latency_ms=20)
    assert topology.link_to("edge1", "edge1") is None
    assert topology.links_from("edge1") == {"cloud": LinkSpec(bandwidth_mbps=8, latency_ms=20)}
    assert topology.node("edge1").arch == "arm64"


def test_from_yaml_file(tmp_path):
    check(StaticTopology.from_file(write(tmp_path, YAML)))


def test_dump_writes_json_that_reads_back(tmp_path):
    topology = StaticTopology.from_file(write(tmp_path, YAML))
    out = tmp_path / "out" / "topology.json"
    topology.dump(out)
    assert json.loads(out.read_text())["nodes"]["edge1"]["role"] == "edge"
    again = StaticTopology.from_file(out)
    assert again.model == topology.model
    check(again)


def test_from_env_holding_a_path_or_inline_json(tmp_path, monkeypatch):
    path = write(tmp_path, YAML)
    monkeypatch.setenv("DAYU_TOPOLOGY", str(path))
    check(StaticTopology.from_env())
    inline = StaticTopology.from_file(path).model.model_dump_json()
    monkeypatch.setenv("DAYU_TOPOLOGY", "  " + inline)
    check(StaticTopology.from_env())


def test_from_env_errors(monkeypatch, tmp_path):
    monkeypatch.delenv("DAYU_TOPOLOGY", raising=False)
    with pytest.raises(ConfigError, match=r"\$DAYU_TOPOLOGY is not set"):
        StaticTopology.from_env()
    monkeypatch.setenv("DAYU_TOPOLOGY", '{"nodes": ')
    with pytest.raises(ConfigError, match="invalid JSON"):
        StaticTopology.from_env()
    monkeypatch.setenv("DAYU_TOPOLOGY", '{"nodes": {"cloud": {"role": "fog"}}}')
    with pytest.raises(ConfigError, match=r"^\$DAYU_TOPOLOGY: nodes.cloud.role"):
        StaticTopology.from_env()
    monkeypatch.setenv("DAYU_TOPOLOGY", str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="no such file"):
        StaticTopology.from_env()


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("role: edge", "role: cloud", 1, "exactly one cloud node is required, found 2"),
        ("{port: 9110}", "{port: 70000}", 18, "nodes.edge1.processors.text-detection.port"),
        ("arch: arm64", "arch: arm64\n    gpu: true", 13, "nodes.edge1.gpu: Extra inputs"),
        ("a: edge1, b: cloud", "a: edge1, b: edge9", 1, "unknown node 'edge9'"),
        ("a: edge1, b: cloud", "a: edge1, b: edge1", 1, "joins a node to itself"),
        ("bandwidth_mbps: 8", "bandwidth_mbps: 0", 20, "links.0.bandwidth_mbps"),
        ("  - {a: edge1", "  - {a: cloud, b: edge1}\n  - {a: edge1", 1, "given twice"),
    ],
)
def test_bad_topologies_are_refused_naming_line_and_field(tmp_path, old, new, line, words):
    assert old in YAML
    path = write(tmp_path, YAML.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        StaticTopology.from_file(path)
    assert err.value.message.startswith(f"{path}:{line}: "), err.value.message
    assert words in err.value.message


def test_lookups_of_things_that_are_not_there_are_not_found(tmp_path):
    topology = StaticTopology.from_file(write(tmp_path, YAML))
    with pytest.raises(NotFound, match="unknown node 'edge7'; known: cloud, edge1"):
        topology.node("edge7")
    with pytest.raises(NotFound, match="runs no monitor"):
        topology.component_url("monitor", "edge1")
    with pytest.raises(NotFound, match="no processor for 'ocr'"):
        topology.processor_url("ocr", "cloud")


def test_the_interface_is_enough_for_another_implementation():
    """What a Kubernetes implementation would fill from node and service labels (no API server here)."""

    class Labelled(Topology):
        def nodes(self) -> dict[str, NodeSpec]:
            return {
                "master": NodeSpec(role="cloud", components={"distributor": Endpoint(host="10.0.0.1", port=30001)}),
                "jetson": NodeSpec(role="edge", arch="arm64"),
            }

        def links(self) -> list[LinkModel]:
            return []

    topology = Labelled()
    assert topology.cloud() == "master" and topology.edges() == ["jetson"]
    assert topology.component_url("distributor") == "http://10.0.0.1:30001"
    assert topology.links_from("jetson") == {}


def test_model_requires_nodes():
    with pytest.raises(ValueError):
        TopologyModel.model_validate({"nodes": {}})


def test_a_topology_file_is_parsed_again_only_when_replaced(tmp_path):
    path = write(tmp_path, YAML)
    cached = TopologyFile(path)
    first = cached.read()
    assert first is not None
    check(first)
    assert cached.read() is first  # unchanged: the parsed topology is reused, not read again
    # Replaced whole, as the runtime writes it: the new version is read.
    changed = first.model.model_copy(deep=True)
    changed.nodes["edge1"].labels["zone"] = "north"
    StaticTopology(changed).dump(path)
    second = cached.read()
    assert second is not None and second is not first
    assert second.node("edge1").labels == {"zone": "north"}
    assert cached.read() is second
    path.unlink()
    assert cached.read() is None


def test_a_watched_topology_sees_a_replacement_even_with_the_same_size_and_mtime(tmp_path):
    """The writer replaces the file whole; on a coarse clock both versions can carry one mtime and, with a
    label of the same length, one size: the inode still tells them apart."""
    path = write(tmp_path, YAML)
    watched = WatchedTopology(path, check_every=0.0)
    assert watched.node("edge1").labels.get("zone") is None
    before = path.stat()
    changed = watched.model.model_copy(deep=True)
    changed.nodes["edge1"].labels["zone"] = "north"
    replacement = tmp_path / "next.yaml"
    StaticTopology(changed).dump(replacement)
    padded = replacement.read_text()
    padded += " " * (before.st_size - len(padded.encode()))  # the same size as the old file, where it fits
    replacement.write_text(padded)
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, path)
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    assert watched.node("edge1").labels == {"zone": "north"}
