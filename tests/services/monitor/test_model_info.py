"""``model-info``: a real processor's measured ms per frame by resolution and memory, and node capacity."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.registry import REGISTRY
from common.topology import StaticTopology, TopologyModel
from common.transport import ServiceClient
from services.monitor.probe import FAMILY, ProbeContext
from services.processor.app import create_app
from services.processor.config import ProcessorConfig
from services.processor.settings import ProcessorSettings
from tests import loopback
from tests.servers import serve
from tests.services.processor.segments import face_segment, stage_task

pytestmark = pytest.mark.integration


async def test_model_info_reports_measured_cost_per_resolution_and_capacity(tmp_path: Path) -> None:
    face_segment(tmp_path, "face.mp4")
    task = stage_task("face-detection", "face.mp4")
    task.meta.resolution = "480p"
    settings = ProcessorSettings(work_dir=tmp_path, service="face-detection")
    app = create_app(settings, ProcessorConfig.model_validate({"application": {"alias": "face-detection"}}))
    with serve(app) as url:
        loopback.post(f"{url}/process", content=task.to_json(), timeout=30).raise_for_status()
        port = int(url.rsplit(":", 1)[1])
        topology = StaticTopology(
            TopologyModel.model_validate(
                {
                    "nodes": {
                        "cloud": {"role": "cloud"},
                        "edge1": {"role": "edge", "processors": {"face-detection": {"port": port}}},
                    }
                }
            )
        )
        probe = REGISTRY.create(FAMILY, "model-info", {"matrix": 64})
        client = ServiceClient()
        try:
            context = ProbeContext(
                node="edge1", client=client, topology=topology, cloud_node="cloud", cloud_monitor_url=None
            )
            sample = await probe.sample(context)
        finally:
            await client.aclose()
    model = sample["extra"]["models"]["face-detection"]
    assert model["reachable"] is True and model["application"] == "face-detection" and model["processed"] == 1
    assert set(model["ms_per_frame"]) == {"480p"} and model["ms_per_frame"]["480p"] > 0
    assert model["memory_mb"] > 10
    compute = sample["extra"]["compute"]
    assert compute["cores"] >= 1 and compute["memory_mb"] > 0 and compute["gflops"] > 0
