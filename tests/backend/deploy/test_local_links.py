"""The local deployer's links: an install's trace reaches every link to the cloud, an unknown one is refused,
and a deployer that emulates no links refuses a trace. No processes are started here (test_flow.py does)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.deploy.factory import loopback_ports
from backend.deploy.local import LocalDeployer
from backend.templates import LocalSettings
from common.errors import ConfigError, InvalidInput
from tests.backend.test_installer import MemoryDeployer

pytestmark = pytest.mark.unit

SETTINGS = LocalSettings.model_validate(
    {
        "nodes": {"cloud": {"role": "cloud"}, "edge1": {"role": "edge"}, "edge2": {"role": "edge"}},
        "links": [
            {"a": "cloud", "b": "edge1", "bandwidth_mbps": 40},
            {"a": "edge2", "b": "cloud", "bandwidth_mbps": 20},
            {"a": "edge1", "b": "edge2", "bandwidth_mbps": 100},
        ],
        "link_mode": "auto",
    }
)


def test_install_trace_applies_to_the_links_to_the_cloud(tmp_path: Path) -> None:
    deployer = LocalDeployer(tmp_path / "run", SETTINGS)
    assert [link.trace for link in deployer._links()] == [None, None, None]
    deployer.use_trace("step-drop", "hold")
    links = {(link.a, link.b): link for link in deployer._links()}
    assert links["cloud", "edge1"].trace == "step-drop" and links["cloud", "edge1"].trace_mode == "hold"
    assert links["edge2", "cloud"].trace == "step-drop"
    assert links["edge1", "edge2"].trace is None  # not a link to the cloud
    assert links["cloud", "edge1"].bandwidth_mbps == 40  # kept, the trace overrides it while it runs
    deployer.use_trace(None)
    assert all(link.trace is None for link in deployer._links())


def test_unknown_trace_is_refused_and_keeps_the_links(tmp_path: Path) -> None:
    deployer = LocalDeployer(tmp_path / "run", SETTINGS)
    known = "constant, periodic, random-walk, step-drop, tmobile-umts-driving-up"
    with pytest.raises(ConfigError, match=f"unknown trace 'no-such'; known: {known}"):
        deployer.use_trace("no-such")
    assert all(link.trace is None for link in deployer._links())


def test_install_trace_is_one_of_the_installed_templates(tmp_path: Path) -> None:
    """A name is looked up in the installed template's traces; the links keep the name where the project
    ships the same file, and are handed the template's own file otherwise."""
    traces = tmp_path / "template" / "traces"
    traces.mkdir(parents=True)
    shipped = Path(__file__).resolve().parents[3] / "template" / "traces" / "step-drop.csv"
    (traces / "step-drop.csv").write_bytes(shipped.read_bytes())
    (traces / "lab.csv").write_text("t_s,mbit_per_s\n0,8\n30,1.5\n45,8\n")
    (traces / "periodic.csv").write_text("t_s,mbit_per_s\n0,3\n10,4\n")  # not the project's periodic
    deployer = LocalDeployer(tmp_path / "run", SETTINGS, trace_dir=traces)
    deployer.use_trace("step-drop")
    assert {link.trace for link in deployer._links() if "cloud" in (link.a, link.b)} == {"step-drop"}
    deployer.use_trace("lab", "hold")
    assert {link.trace for link in deployer._links() if "cloud" in (link.a, link.b)} == {str(traces / "lab.csv")}
    deployer.use_trace("periodic")
    assert {link.trace for link in deployer._links() if "cloud" in (link.a, link.b)} == {str(traces / "periodic.csv")}
    with pytest.raises(ConfigError, match="unknown trace 'constant'; known: lab, periodic, step-drop"):
        deployer.use_trace("constant")  # the project has it, the installed template does not


def test_template_link_with_unknown_trace_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="unknown trace 'nope'"):
        LocalSettings.model_validate(
            {"nodes": {"cloud": {"role": "cloud"}}, "links": [{"a": "cloud", "b": "x", "trace": "nope"}]}
        )


def test_deployers_without_link_emulation_refuse_a_trace() -> None:
    deployer = MemoryDeployer()
    deployer.use_trace(None)  # nothing asked, nothing refused
    with pytest.raises(InvalidInput, match="link traces need the local runtime"):
        deployer.use_trace("step-drop")
    assert deployer.link_status() is None


def test_loopback_ports_are_those_netns_nodes_must_reach() -> None:
    assert loopback_ports("http://127.0.0.1:8901", None, "http://localhost:9/x", "http://10.0.0.5:80") == [8901, 9]
