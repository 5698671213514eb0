"""The datasource image's entry point: the default dataset appears on the data volume at the first start,
is kept at the next, and the command then replaces the entry point (run for real on a temporary root)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hack.images import ROOT

pytestmark = pytest.mark.integration
ENTRY = ROOT / "hack/docker/datasource_start.py"


def start(root: Path, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ENTRY), *command],
        env={**os.environ, "DAYU_ROOT": str(root), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_first_start_generates_the_default_dataset_then_runs_the_command(tmp_path: Path) -> None:
    root = tmp_path / "data" / "datasets"
    run = start(root, "sh", "-c", 'echo "ran $DAYU_ROOT"')
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"ran {root}"
    manifest = root / "synthetic" / "manifest.yaml"
    assert manifest.is_file()
    made = manifest.stat().st_mtime_ns
    again = start(root, "true")
    assert again.returncode == 0 and manifest.stat().st_mtime_ns == made  # kept, not generated again
    skipped = start(tmp_path / "empty", "true", DAYU_DEFAULT_DATASET="0")
    assert skipped.returncode == 0 and not (tmp_path / "empty" / "synthetic").exists()
