"""hack/smoke_check.py's dashboard check (what `make image-smoke` asks of the backend container) against the
real backend app on loopback, serving a dashboard directory like the image's."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from backend.app import create_app
from backend.settings import BackendSettings
from tests.hack.images import ROOT
from tests.servers import serve

pytestmark = pytest.mark.integration

INDEX = """<!doctype html><html><head><title>Dayu</title>
<script type="module" crossorigin src="/assets/index-abc123.js"></script>
<link rel="stylesheet" crossorigin href="/assets/index-def456.css"></head><body><div id="app"></div></body></html>
"""


def smoke_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("smoke_check", ROOT / "hack" / "smoke_check.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dist(folder: Path, script: str = "console.log('dayu');\n") -> Path:
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text(INDEX)
    (folder / "assets" / "index-abc123.js").write_text(script)
    (folder / "assets" / "index-def456.css").write_text("body {}\n")
    return folder


def backend(tmp_path: Path, static: Path) -> BackendSettings:
    return BackendSettings(
        token="t",
        template=ROOT / "template",
        state_dir=tmp_path / "state",
        run_dir=tmp_path / "run",
        deployer="local",
        static_dir=static,
    )


def test_the_dashboard_served_as_built_passes(tmp_path: Path) -> None:
    served = dist(tmp_path / "dist")
    with serve(create_app(backend(tmp_path, served))) as url:
        line = smoke_check().check_dashboard(url, served)
    assert "/assets/index-abc123.js" in line and "21 bytes" in line


def test_a_different_build_or_none_fails(tmp_path: Path) -> None:
    served = dist(tmp_path / "image")
    other = dist(tmp_path / "host", script="console.log('another build');\n")
    check = smoke_check().check_dashboard
    with serve(create_app(backend(tmp_path, served))) as url, pytest.raises(SystemExit, match="differs from"):
        check(url, other)
    not_built = create_app(backend(tmp_path, tmp_path / "not-built"))
    with serve(not_built) as url, pytest.raises(SystemExit, match="GET / answered 503"):
        check(url, served)
