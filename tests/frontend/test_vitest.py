"""The dashboard's component tests (Vitest, in frontend/tests): chart buffer bounds, the DAG editor's
payload and error mapping, SSE parsing and batching, result views."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


def test_vitest_suite_passes() -> None:
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed: the dashboard's component tests need it")
    if not (FRONTEND / "node_modules" / ".bin" / "vitest").is_file():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=FRONTEND, check=True, timeout=600)
    run = subprocess.run(
        ["npx", "vitest", "run"], cwd=FRONTEND, capture_output=True, text=True, timeout=600, check=False
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout
