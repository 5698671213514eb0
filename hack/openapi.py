"""Export every component's OpenAPI document: ``python hack/openapi.py [--check] [DIR]`` (``make schema``).

Each app is built by its factory with default settings and config, and never started (no lifespan runs,
nothing listens), so the document depends on the code alone. Output: ``docs/openapi/<component>.json``,
keys sorted, one trailing newline; ``--check`` exits 1 naming every document that is not current.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
DEFAULT_DIR = ROOT / "docs" / "openapi"


def _controller() -> FastAPI:
    from services.controller.app import create_app
    from services.controller.config import ControllerConfig, ControllerSettings

    return create_app(ControllerSettings(), ControllerConfig())


def _distributor() -> FastAPI:
    from services.distributor.app import create_app
    from services.distributor.config import DistributorConfig
    from services.distributor.settings import DistributorSettings

    return create_app(DistributorSettings(), DistributorConfig())


def _generator() -> FastAPI:
    from services.generator.app import create_app
    from services.generator.config import GeneratorConfig, GeneratorSettings

    return create_app(GeneratorSettings(), GeneratorConfig())


def _monitor() -> FastAPI:
    from services.monitor.app import create_app
    from services.monitor.config import MonitorConfig
    from services.monitor.settings import MonitorSettings

    return create_app(MonitorSettings(), MonitorConfig())


def _processor() -> FastAPI:
    from services.processor.app import create_app
    from services.processor.config import ProcessorConfig
    from services.processor.settings import ProcessorSettings

    return create_app(ProcessorSettings(), ProcessorConfig())


def _scheduler() -> FastAPI:
    from services.scheduler.app import create_app
    from services.scheduler.config import SchedulerConfig
    from services.scheduler.settings import SchedulerSettings

    return create_app(SchedulerSettings(), SchedulerConfig())


def _datasource() -> FastAPI:
    from datasource.app import create_app
    from datasource.config import DatasourceSettings

    return create_app(DatasourceSettings())


def _backend() -> FastAPI:
    from backend.app import create_app
    from backend.settings import BackendSettings

    with tempfile.TemporaryDirectory() as tmp:  # the factory only reads the template; nothing is kept
        settings = BackendSettings(
            token="export", template=ROOT / "template", state_dir=Path(tmp), static_dir=Path(tmp) / "none"
        )
        return create_app(settings)


FACTORIES: dict[str, Callable[[], FastAPI]] = {
    "backend": _backend,
    "controller": _controller,
    "datasource": _datasource,
    "distributor": _distributor,
    "generator": _generator,
    "monitor": _monitor,
    "processor": _processor,
    "scheduler": _scheduler,
}


def document(component: str) -> dict[str, object]:
    """The OpenAPI document of ``component``, from its app factory."""
    return FACTORIES[component]().openapi()


def document_text(component: str) -> str:
    return json.dumps(document(component), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--check", action="store_true", help="exit 1 if a document is not current")
    args = parser.parse_args(argv)
    stale = []
    for component in FACTORIES:
        path = args.directory / f"{component}.json"
        text = document_text(component)
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(str(path))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}: run make schema", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
