"""Every component's OpenAPI document held to by schemathesis, with every check it has, against a real
server on loopback with the token.

Every check: no 5xx, only status codes the document declares, the declared content types, bodies
(and server-sent events) valid against their schemas, declared headers present, the ``Allow`` header
of a 405 right, schema-valid input accepted and schema-invalid input refused, a deleted resource gone.
Each operation gets schemathesis' coverage cases first: every boundary of every input and every value
of a wrong type, one input at a time (``false`` and ``"3"`` for a number, a number for a string, ...),
the same on every run. Random generation rarely draws those one by one: at 60 examples of each kind and
five seeds it drew no ``false`` in a number field that lax parsing took for 0, which these cases find at
once. Then :data:`EXAMPLES` requests of valid and as many of invalid input, drawn from the fixed
:data:`SEED` (``DAYU_FUZZ_SEED`` to change it; a failure prints it, with the request as curl).
The few settings of the checks are in ``schemathesis.toml`` beside this file, each with its reason.

Nothing is faked: the generator reads a video file written here; the processor's golden labeller is on;
the backend runs over a throwaway copy of the default template, state and runtime directories in the
test's temporary folder, with a real datasource server behind it. The state-changing routes (install,
uninstall, redeploy, query, DAG and datasource edits, video uploads) are fuzzed too: the fuzzer's
installs name datasources and policies that do not exist and are refused (a real install starting a
cluster is tests/backend/test_flow.py's); the others answer for the uninstalled platform."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.generation.drivers import CoverageGenerator
from schemathesis.generation.feedback import NO_FEEDBACK
from schemathesis.generation.overrides import Override

from tests.servers import free_port, serve

pytestmark = pytest.mark.integration

TOKEN = "fuzz-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPO = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = int(os.environ.get("DAYU_FUZZ_EXAMPLES", "15"))
"""Requests per operation and kind of input (valid, invalid): every handler reached, a short run."""
SEED = int(os.environ.get("DAYU_FUZZ_SEED", "27"))
"""The generator's seed: the same requests on every run, so a failure is one to reproduce, not luck."""


def topology(port: int) -> str:
    nodes = {
        "cloud": {
            "role": "cloud",
            "components": {"scheduler": {"port": port}, "distributor": {"port": port}, "controller": {"port": port}},
        },
        "edge1": {"role": "edge", "components": {"controller": {"port": port}}},
    }
    return json.dumps({"nodes": nodes, "links": []})


def controller(tmp: Path, stack: ExitStack) -> Any:
    from services.controller.app import create_app
    from services.controller.config import ControllerConfig, ControllerSettings

    settings = ControllerSettings(token=TOKEN, topology=topology(free_port()), work_dir=tmp / "w", config=None)
    return create_app(settings, ControllerConfig())


def processor(tmp: Path, stack: ExitStack) -> Any:
    from services.processor.app import create_app
    from services.processor.config import ProcessorConfig
    from services.processor.settings import ProcessorSettings

    settings = ProcessorSettings(token=TOKEN, work_dir=tmp, service="face-detection")
    config = {"application": {"alias": "face-detection"}, "labeller": {"enabled": True}}
    return create_app(settings, ProcessorConfig.model_validate(config))


def distributor(tmp: Path, stack: ExitStack) -> Any:
    from services.distributor.app import create_app
    from services.distributor.config import DistributorConfig
    from services.distributor.settings import DistributorSettings

    return create_app(DistributorSettings(token=TOKEN, work_dir=tmp / "w"), DistributorConfig(feedback=False))


def scheduler(tmp: Path, stack: ExitStack) -> Any:
    from services.scheduler.app import create_app
    from services.scheduler.config import SchedulerConfig
    from services.scheduler.settings import SchedulerSettings

    return create_app(SchedulerSettings(token=TOKEN), SchedulerConfig())


def monitor(tmp: Path, stack: ExitStack) -> Any:
    from services.monitor.app import create_app
    from services.monitor.config import MonitorConfig
    from services.monitor.settings import MonitorSettings

    return create_app(MonitorSettings(token=TOKEN, node="edge1"), MonitorConfig.model_validate({"interval": 1.0}))


def generator(tmp: Path, stack: ExitStack) -> Any:
    from services.generator.app import create_app
    from services.generator.config import GeneratorConfig, GeneratorSettings
    from tests.e2e.cluster import write_video

    video = write_video(tmp / "v.mp4", frames=8, fps=10)
    config = GeneratorConfig.model_validate(
        {"source_id": "cam", "source": {"alias": "file", "params": {"path": str(video)}}, "realtime": False}
    )
    settings = GeneratorSettings(token=TOKEN, node="edge1", topology=topology(free_port()), work_dir=tmp / "w")
    return create_app(settings, config)


def backend(tmp: Path, stack: ExitStack) -> Any:
    from backend.app import create_app
    from backend.settings import BackendSettings

    datasource_url = stack.enter_context(serve(datasource(tmp / "datasource", stack)))
    shutil.copytree(REPO / "template", tmp / "template")
    settings = BackendSettings(
        token=TOKEN,
        template=tmp / "template",
        state_dir=tmp / "state",
        run_dir=tmp / "run",
        deployer="local",
        static_dir=tmp / "none",
        datasource_url=datasource_url,
    )
    return create_app(settings)


def datasource(tmp: Path, stack: ExitStack) -> Any:
    from datasource.app import create_app
    from datasource.config import DatasourceSettings
    from tests.datasource.server import make_dataset

    make_dataset(tmp / "data")
    return create_app(DatasourceSettings(root=tmp / "data", token=TOKEN, work_dir=tmp / "w"))


APPS: dict[str, Callable[[Path, ExitStack], Any]] = {
    "controller": controller,
    "processor": processor,
    "distributor": distributor,
    "scheduler": scheduler,
    "monitor": monitor,
    "generator": generator,
    "backend": backend,
    "datasource": datasource,
}


def fuzz(operation: Any, mode: GenerationMode, checks: list[Any]) -> list[str]:
    """Send :data:`EXAMPLES` generated requests of ``mode`` to ``operation``; the failed checks, as text."""
    failures: list[str] = []

    @seed(SEED)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        try:
            case.call_and_validate(headers=AUTH, checks=checks, timeout=15)
        except FailureGroup as exc:
            failures.append(f"[{mode.value} input] {exc}")

    try:
        run()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, f"no valid request for {operation.label}"
        # an operation taking no input has no invalid input to send
    return failures


def cover(operation: Any, checks: list[Any]) -> list[str]:
    """Send ``operation``'s coverage cases (the CLI's coverage phase, with the same configuration); the
    failed checks, as text."""
    generation = operation.schema.config.generation_for(operation=operation, phase="coverage")
    cases = CoverageGenerator(
        operation=operation,
        generation_modes=list(generation.modes),
        generation_config=generation,
        auth_storage=None,
        override=Override(),
        feedback=NO_FEEDBACK,
    )
    failures: list[str] = []
    for case in cases:
        try:
            case.call_and_validate(headers=AUTH, checks=checks, timeout=15)
        except FailureGroup as exc:
            failures.append(f"[coverage case] {exc}")
    return failures


@pytest.mark.parametrize("component", sorted(APPS))
def test_every_answer_keeps_the_contract(component: str, tmp_path: Path) -> None:
    failures: list[str] = []
    load_all_checks()
    checks = CHECKS.get_all()
    assert len(checks) > 10, f"only {[c.__name__ for c in checks]}: the OpenAPI checks did not load"
    with ExitStack() as stack:
        url = stack.enter_context(serve(APPS[component](tmp_path, stack)))
        config = SchemathesisConfig.from_path(CONFIG)
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json", headers=AUTH, config=config)
        operations = []
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), f"{component}'s document has an operation that does not load: {result}"
            operations.append(result.ok())
        assert operations, f"{component} documents no operation"
        for operation in operations:
            # Explicit checks override the config's switches: keep those it turns off for this operation.
            switches = schema.config.checks_config_for(operation=operation, phase=None)
            active = [check for check in checks if switches.get_by_name(name=check.__name__).enabled]
            failures += cover(operation, active)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                failures += fuzz(operation, mode, active)
    summary = f"{len(failures)} contract failures of {component} with seed {SEED} (DAYU_FUZZ_SEED={SEED} reproduces)"
    assert failures == [], summary + ":\n" + "\n".join(failures[:10])
