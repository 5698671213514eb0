"""Policies whose agent cannot load in this install are marked unavailable, with the reason, before a user
picks them: in the catalog (``GET /api/policies``) and in ``dayuctl policies``. A real backend in a fresh
interpreter without torch (tests/backend/without_torch.py makes torch unimportable there, as after
``dayu.sh start``), and a real backend with this environment as it is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from common.registry import REGISTRY, skipped_aliases
from services.scheduler.agent import FAMILY
from tests.backend.conftest import REPO, RunningBackend

pytestmark = pytest.mark.integration
NEEDS_TORCH = {"casva", "hei"}


def test_without_torch_casva_and_hei_are_unavailable_with_the_reason(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.backend.without_torch", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    for listing in (answer["api"], answer["cli"]):
        unavailable = {p["id"]: p["unavailable_reason"] for p in listing if not p["available"]}
        assert set(unavailable) == NEEDS_TORCH
        for policy, reason in unavailable.items():
            assert f"agent {policy!r} cannot load here" in reason and "No module named 'torch'" in reason
            assert "`rl` extra" in reason
        others = [p for p in listing if p["id"] not in NEEDS_TORCH]
        assert others and all(p["available"] and p["unavailable_reason"] is None for p in others)
    # An install of such a policy is refused up front, with the same reason, and nothing starts.
    install = answer["install"]
    assert install["status"] == 400, install
    assert "policy 'casva' is not available here" in install["error"]["message"]
    assert "No module named 'torch'" in install["error"]["message"]
    assert install["phase"] == "uninstalled" and install["instances"] == []


def test_with_this_environment_only_the_agents_it_cannot_load_are_unavailable(
    backend: RunningBackend,
) -> None:
    listing = backend.client().get("/api/policies").json()
    cannot = skipped_aliases(REGISTRY.skipped(FAMILY))  # empty where the rl extra is installed
    marked = {p["id"] for p in listing if not p["available"]}
    assert marked == {p["id"] for p in listing if p["id"] in cannot}
    assert {p["id"] for p in listing} >= {"fixed", "fc", *NEEDS_TORCH}
