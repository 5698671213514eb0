"""The planner's rendering of workloads from the default template: generator sources (http, rtsp, file) and
the scheduler's startup knobs. Pure functions over the template; nothing runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backend.datasource_config import SourceEntry
from backend.planner import Planner, ResolvedSource, resolve_dag
from backend.templates import load_template
from common.errors import HookError
from common.registry import REGISTRY
from common.topology import NodeSpec
from common.workload import Workload
from services.distributor.config import DistributorConfig
from services.generator.config import GeneratorConfig
from services.generator.pipeline import FAMILIES
from services.scheduler.config import SchedulerConfig

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
NODES = {"cloud": NodeSpec(role="cloud"), "edge1": NodeSpec(role="edge"), "edge2": NodeSpec(role="edge")}
RTSP_URL = "rtsp://127.0.0.1:8554/cam0"


def planner() -> Planner:
    return Planner(load_template(REPO / "template"), NODES, token="t")


def resolved(entry: dict[str, Any]) -> ResolvedSource:
    template = load_template(REPO / "template")
    spec = template.base.dags["face-detection"].model_dump(mode="json")
    return ResolvedSource(
        entry=SourceEntry.model_validate(entry),
        dag_name="face-detection",
        dag=resolve_dag(template, spec),
        spec=spec,
        nodes=sorted(NODES),
        attach=["edge1", "edge2"],
    )


def generator(src: ResolvedSource, stream_url: str) -> Workload:
    p = planner()
    policy = p.template.policies["fixed"]
    workloads = p.stage2(
        policy, [src], {src.entry.id: "edge1"}, {"face-detection": ["cloud"]}, {src.entry.id: stream_url}
    )
    (found,) = [w for w in workloads if w.component == "generator"]
    return found


def check_source_hook(workload: Workload, at_open: dict[str, Any] | None = None) -> dict[str, Any]:
    """The rendered config is one the generator accepts, and its source hook takes its params (with the
    ones given at ``POST /source/open`` over them)."""
    config = GeneratorConfig.model_validate(workload.config)
    assert FAMILIES  # importing the pipeline declares the generator's hook modules
    REGISTRY.make_config("source", config.source.alias, {**config.source.params, **(at_open or {})})
    source: dict[str, Any] = workload.config["source"]
    return source


def test_an_rtsp_camera_reads_the_rtsp_url_the_datasource_reports() -> None:
    src = resolved({"id": "cam0", "mode": "rtsp", "dataset": "synthetic", "node_candidates": ["edge1"]})
    # At install the URL is not known yet (the datasource picks a port when it opens the stream): the
    # generator starts closed and is given the URL when the datasource is opened.
    pending = generator(src, "")
    assert pending.config["source"] == {"alias": "rtsp", "params": {}} and pending.config["autostart"] is False
    with pytest.raises(HookError, match="url"):
        check_source_hook(pending)
    assert check_source_hook(pending, {"url": RTSP_URL}) == {"alias": "rtsp", "params": {}}


def test_a_real_rtsp_camera_keeps_its_own_url_and_params() -> None:
    src = resolved({"id": "cam9", "mode": "rtsp", "url": "rtsp://10.0.0.9/live", "params": {"transport": "udp"}})
    source = check_source_hook(generator(src, "rtsp://10.0.0.9/live"))
    assert source == {"alias": "rtsp", "params": {"transport": "udp", "url": "rtsp://10.0.0.9/live"}}


def test_http_and_file_sources() -> None:
    http = resolved({"id": "cam1", "mode": "http", "dataset": "synthetic"})
    url = "http://127.0.0.1:8901/streams/cam1"
    # The platform's own datasource gets the platform token; a camera of its own URL never does.
    assert check_source_hook(generator(http, url)) == {"alias": "http", "params": {"url": url, "platform": True}}
    camera = resolved({"id": "cam3", "mode": "http", "url": "http://camera.example/live"})
    assert check_source_hook(generator(camera, "http://camera.example/live")) == {
        "alias": "http",
        "params": {"url": "http://camera.example/live"},
    }
    file = resolved({"id": "cam2", "mode": "file", "path": "/data/v.mp4"})
    assert check_source_hook(generator(file, "")) == {"alias": "file", "params": {"path": "/data/v.mp4"}}


def test_the_rtsp_hook_refuses_the_http_stream_url() -> None:
    """Why the datasource's HTTP URL must not stand in for a simulated RTSP camera's stream."""
    src = resolved({"id": "cam0", "mode": "rtsp", "dataset": "synthetic"})
    with pytest.raises(HookError, match="rtsp"):
        check_source_hook(generator(src, ""), {"url": "http://127.0.0.1:8901/streams/cam0"})


@pytest.mark.parametrize("policy", ["fixed", "cloud-only", "edge-only"])
def test_the_scheduler_plans_with_the_generators_startup_knobs(policy: str) -> None:
    """Without it every agent would answer with the scheduler's own default knobs (720p, 30 fps)."""
    p = planner()
    spec = p.template.policies[policy]
    (workload,) = [w for w in p.stage1(spec) if w.component == "scheduler"]
    config = SchedulerConfig.model_validate(workload.config)
    knobs = p.template.component(spec.generator).config["startup_plan"]
    assert config.startup.meta == GeneratorConfig.model_validate({"startup_plan": knobs}).startup_plan
    assert config.startup.meta.fps == knobs["fps"] and config.startup.meta.resolution == knobs["resolution"]
    assert config.agent.alias == policy


def test_each_install_gets_a_result_database_of_its_own() -> None:
    p = planner()
    spec = p.template.policies["fixed"]
    (first,) = [w for w in p.stage1(spec, run_id="run-a") if w.component == "distributor"]
    (second,) = [w for w in p.stage1(spec, run_id="run-b") if w.component == "distributor"]
    assert DistributorConfig.model_validate(first.config).run_id == "run-a"
    assert DistributorConfig.model_validate(second.config).run_id == "run-b"
