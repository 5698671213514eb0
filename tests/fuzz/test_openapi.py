"""Every component's OpenAPI document fuzzed by schemathesis against a real server with the token:
whatever the generated request, no answer is a 5xx. Examples per operation are bounded so the whole
run stays short; the generator reads a video file written here, the backend runs over a copy of the
default template (routes that would start processes — install, uninstall, redeploy, query — are left out:
tests/backend/test_flow.py and tests/faults run them for real)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.servers import free_port, serve

pytestmark = pytest.mark.integration

TOKEN = "fuzz-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPO = Path(__file__).resolve().parents[2]
EXCLUDED = r"^/api/(install|uninstall|redeploy|query/)"
EXAMPLES = 8
"""Generated requests per operation: enough to reach every handler, few enough for a short run."""


def topology(port: int) -> str:
    nodes = {
        "cloud": {
            "role": "cloud",
            "components": {"scheduler": {"port": port}, "distributor": {"port": port}, "controller": {"port": port}},
        },
        "edge1": {"role": "edge", "components": {"controller": {"port": port}}},
    }
    return json.dumps({"nodes": nodes, "links": []})


def controller(tmp: Path) -> Any:
    from services.controller.app import create_app
    from services.controller.config import ControllerConfig, ControllerSettings

    settings = ControllerSettings(token=TOKEN, topology=topology(free_port()), work_dir=tmp / "w", config=None)
    return create_app(settings, ControllerConfig())


def processor(tmp: Path) -> Any:
    from services.processor.app import create_app
    from services.processor.config import ProcessorConfig
    from services.processor.settings import ProcessorSettings

    settings = ProcessorSettings(token=TOKEN, work_dir=tmp, service="face-detection")
    return create_app(settings, ProcessorConfig.model_validate({"application": {"alias": "face-detection"}}))


def distributor(tmp: Path) -> Any:
    from services.distributor.app import create_app
    from services.distributor.config import DistributorConfig
    from services.distributor.settings import DistributorSettings

    return create_app(DistributorSettings(token=TOKEN, work_dir=tmp / "w"), DistributorConfig(feedback=False))


def scheduler(tmp: Path) -> Any:
    from services.scheduler.app import create_app
    from services.scheduler.config import SchedulerConfig
    from services.scheduler.settings import SchedulerSettings

    return create_app(SchedulerSettings(token=TOKEN), SchedulerConfig())


def monitor(tmp: Path) -> Any:
    from services.monitor.app import create_app
    from services.monitor.config import MonitorConfig
    from services.monitor.settings import MonitorSettings

    return create_app(MonitorSettings(token=TOKEN, node="edge1"), MonitorConfig.model_validate({"interval": 1.0}))


def generator(tmp: Path) -> Any:
    from services.generator.app import create_app
    from services.generator.config import GeneratorConfig, GeneratorSettings
    from tests.e2e.cluster import write_video

    video = write_video(tmp / "v.mp4", frames=8, fps=10)
    config = GeneratorConfig.model_validate(
        {"source_id": "cam", "source": {"alias": "file", "params": {"path": str(video)}}, "realtime": False}
    )
    settings = GeneratorSettings(token=TOKEN, node="edge1", topology=topology(free_port()), work_dir=tmp / "w")
    return create_app(settings, config)


def backend(tmp: Path) -> Any:
    from backend.app import create_app
    from backend.settings import BackendSettings

    shutil.copytree(REPO / "template", tmp / "template")
    settings = BackendSettings(
        token=TOKEN,
        template=tmp / "template",
        state_dir=tmp / "state",
        run_dir=tmp / "run",
        deployer="local",
        static_dir=tmp / "none",
    )
    return create_app(settings)


def datasource(tmp: Path) -> Any:
    from datasource.app import create_app
    from datasource.config import DatasourceSettings
    from tests.datasource.server import make_dataset

    make_dataset(tmp / "data")
    return create_app(DatasourceSettings(root=tmp / "data", token=TOKEN, work_dir=tmp / "w"))


APPS: dict[str, Callable[[Path], Any]] = {
    "controller": controller,
    "processor": processor,
    "distributor": distributor,
    "scheduler": scheduler,
    "monitor": monitor,
    "generator": generator,
    "backend": backend,
    "datasource": datasource,
}


@pytest.mark.parametrize("component", sorted(APPS))
def test_no_request_gets_a_server_error(component: str, tmp_path: Path) -> None:
    failures: list[str] = []
    with serve(APPS[component](tmp_path)) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json", headers=AUTH).exclude(path_regex=EXCLUDED)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert operations, f"{component} documents no operation"
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def run(case: Any) -> None:
                response = case.call(headers=AUTH, timeout=15)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}"
                    )

            run()
    assert failures == [], "\n".join(failures[:10])
