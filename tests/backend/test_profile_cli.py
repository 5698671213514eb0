"""``dayuctl profile`` end to end: the real command measures the template's face-detection application (its
OpenCV model loaded in the command's process) on a synthetic clip it writes, and the table it writes is the
one a real scheduler server running ``offline-profiling`` loads and decides by."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from backend.templates import load_template
from common.dag import DagSpec, ServiceType, StageSpec, build_dag
from common.errors import ConfigError
from common.plan import PlanRequest
from common.profile_table import load_table
from common.topology import StaticTopology, TopologyModel
from services.scheduler.app import create_app
from services.scheduler.config import SchedulerConfig
from services.scheduler.settings import SchedulerSettings
from tests import loopback
from tests.servers import serve

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "face-detection"
PROFILED = ["360p", "480p", "540p", "720p"]  # what the command measures; 1080p is left to default_ms
BUFFER = 4
UNMEASURED_MS = 1e6  # default_ms: a resolution the table lacks never fits the SLO


@pytest.fixture(scope="module")
def table_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("profile") / "profiles" / "latency.json"
    dayuctl = Path(sys.executable).with_name("dayuctl")
    done = subprocess.run(
        [str(dayuctl), "profile", "--template", str(ROOT / "template"), "--services", SERVICE, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"wrote {out}" in done.stdout
    return out


def scheduler(params: dict[str, Any]) -> Any:
    """A real scheduler server whose every node (the template's) runs the profiled service."""
    nodes = {
        name: {"role": spec.role, "processors": {SERVICE: {"port": 9000}}}
        for name, spec in load_template(ROOT / "template").base.local.nodes.items()
    }
    config = {
        "agent": {"alias": "offline-profiling", "params": {"default_ms": UNMEASURED_MS, "seed": 1, **params}},
        "startup": {"meta": {"resolution": "360p", "fps": 10, "buffer_size": BUFFER}},
    }
    topology = StaticTopology(TopologyModel.model_validate({"nodes": nodes}))
    return serve(create_app(SchedulerSettings(), SchedulerConfig.model_validate(config), topology=topology))


def plan(url: str) -> dict[str, Any]:
    catalog = {SERVICE: ServiceType(input="frame", output="bbox")}
    dag = build_dag(DagSpec(stages=[StageSpec(name="f", service=SERVICE)]), catalog)
    request = PlanRequest(source_id="cam0", source_node="edge1", dag=dag, edge_nodes=["edge1", "edge2"])
    answer = loopback.post(f"{url}/plan", json=request.model_dump(mode="json"), timeout=10)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["plan"])


def test_the_table_covers_every_node_and_resolution_with_measured_figures(table_path: Path) -> None:
    table = load_table(table_path)  # the scheduler's own loader
    nodes = set(load_template(ROOT / "template").base.local.nodes)
    keys = [(r.service, r.node, r.resolution) for r in table.rows]
    assert sorted(keys) == sorted((SERVICE, n, res) for n in nodes for res in PROFILED)
    assert all(r.ms_per_frame > 0 and r.memory_mb is not None for r in table.rows)
    assert table.host and table.measured_at and table.note.startswith("median of")  # says how it was measured
    assert (table_path.parent / "workload").is_dir()  # the synthetic clip it measured on, written beside it


def test_offline_profiling_decides_by_the_table_the_command_wrote(table_path: Path) -> None:
    """With an SLO every measured resolution meets, the richest measured one (720p) is chosen; the same
    scheduler without the table (every figure unknown) falls back to the cheapest; an SLO under every
    measured figure falls back too. So the decision is the table's, read from the file the command wrote."""
    table = load_table(table_path)
    estimate = {res: table.lookup(SERVICE, "edge1", res) * BUFFER / 1000.0 for res in PROFILED}  # type: ignore[operator]
    with scheduler({"table": str(table_path), "slo_s": max(estimate.values()) * 1.5}) as url:
        roomy = plan(url)
    with scheduler({"table": None, "slo_s": max(estimate.values()) * 1.5}) as url:
        blind = plan(url)
    with scheduler({"table": str(table_path), "slo_s": min(estimate.values()) / 2}) as url:
        tight = plan(url)
    assert roomy["meta"]["resolution"] == "720p"
    assert blind["meta"]["resolution"] == "360p" and tight["meta"]["resolution"] == "360p"
    assert roomy["offload"]["f"] in {"cloud", "edge1", "edge2"}


def test_a_missing_table_is_a_clear_error_naming_the_command(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run `dayuctl profile`"):
        load_table(tmp_path / "nowhere.json")
