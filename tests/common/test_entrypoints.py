"""Every entry point answers a bad setting, config file or topology with one line naming it and a non-zero
exit status, never a traceback. Each case runs the real command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
COMPONENTS = ["controller", "distributor", "generator", "monitor", "processor", "scheduler"]
MODULES = [f"services.{c}" for c in COMPONENTS] + ["backend", "datasource"]


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DAYU_")}
    return subprocess.run(
        [sys.executable, *args], env={**clean, **env}, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def one_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode != 0, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("module", MODULES)
def test_a_bad_variable_is_named(module: str, tmp_path: Path) -> None:
    line = one_line(run(["-m", module], {"DAYU_PORT": "eighty"}, tmp_path), "$DAYU_PORT", "valid integer")
    assert line.startswith(f"dayu-{module.rsplit('.', 1)[-1]}: ")


@pytest.mark.parametrize("module", [*MODULES[:6], "datasource"])
def test_a_missing_config_file_is_named(module: str, tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    one_line(run(["-m", module], {"DAYU_CONFIG": str(missing)}, tmp_path), f"{missing}: no such file")


@pytest.mark.parametrize("module", ["services.processor", "services.generator"])
def test_a_bad_config_value_is_named_with_its_line(module: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    if module == "services.processor":
        config.write_text("application:\n  alias: face-detection\n  params:\n    min_size: 1\n")
        expected = f"{config}:4: application.params.min_size"
    else:
        config.write_text("source_id: cam0\nframe_filter:\n  alias: every-other\n")
        expected = f"{config}:3: frame_filter.alias: unknown frame_filter hook 'every-other'"
    one_line(run(["-m", module], {"DAYU_CONFIG": str(config)}, tmp_path), expected)


def test_a_bad_topology_is_named(tmp_path: Path) -> None:
    one_line(run(["-m", "services.controller"], {"DAYU_TOPOLOGY": "{not json"}, tmp_path), "$DAYU_TOPOLOGY")


def test_the_backend_names_a_missing_template(tmp_path: Path) -> None:
    one_line(run(["-m", "backend"], {"DAYU_TEMPLATE": str(tmp_path / "none")}, tmp_path), "base.yaml: no such file")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DAYU_URL": "http://[::1"}, "$DAYU_URL: not a URL"),
        ({"DAYU_URL": "ftp://backend"}, "$DAYU_URL: expected http(s)://host:port"),
        ({}, "no backend found"),
    ],
)
def test_dayuctl_names_a_bad_url(env: dict[str, str], expected: str, tmp_path: Path) -> None:
    line = one_line(run(["-m", "backend.cli", "status"], env, tmp_path), expected)
    assert line.startswith("dayuctl: ")
