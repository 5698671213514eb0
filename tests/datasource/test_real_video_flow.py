"""A real clip through the whole platform, with real processes: ``dayu.sh start`` (local runtime), ``dayuctl
datasource add --file car-detection.mp4``, install the face-detection DAG on it, open, results over the API,
the result frame as served to the dashboard (bare, the dashboard draws the boxes) and with the boxes drawn by
the backend, uninstall, stop.

What is checked is the path of a real video (the datasource serving it over HTTP to the generator, tasks made
of its frames, results carrying no ground truth and saying their accuracy is relative to the golden
configuration), not what the face model finds in a parking lot.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from datasource.clips import BUNDLED
from tests import loopback
from tests.templates import template_copy

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def dayu(action: str, template: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ACTION": action, "TEMPLATE": str(template), "DAYU_HOME": str(home), "DAYU_DASHBOARD": "skip"}
    return subprocess.run(["bash", str(REPO / "dayu.sh")], env=env, capture_output=True, text=True, timeout=600)


def ctl(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "backend.cli", *args]
    return subprocess.run(command, cwd=home, env=env, capture_output=True, text=True, timeout=timeout)


def test_a_real_clip_from_upload_to_results(tmp_path: Path) -> None:
    template = template_copy(tmp_path / "template", lambda base: base["install"].update(stage_timeout_s=90))
    home = tmp_path / "home"
    started = dayu("start", template, home)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        added = ctl(home, "datasource", "add", "--file", str(BUNDLED["car-detection"].path), "--name", "car")
        assert added.returncode == 0, added.stderr
        installed = ctl(home, "install", "--datasource", "car", "--policy", "fixed", "--dag", "face-detection")
        assert installed.returncode == 0, installed.stdout + installed.stderr
        assert ctl(home, "open").returncode == 0
        follow = ctl(home, "--json", "results", "car", "--follow", "--count", "3", "--duration", "180")
        assert follow.returncode == 0, follow.stderr
        records = [json.loads(line) for line in follow.stdout.splitlines() if line.strip()]
        results = [r for r in records if r["kind"] == "result"]
        assert results, records
        assert all(r["accuracy_reference"] == "golden" for r in results)
        assert all(r["source_id"] == "car" and r["delay"] > 0 for r in results)

        token = (home / ".dayu" / "token").read_text().strip()
        url = (home / ".dayu" / "run" / "backend.url").read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        page = loopback.get(f"{url}/api/results/car", params={"tail": 5}, headers=headers, timeout=30).json()
        latest = next(v for v in reversed(page["records"]) if v.get("image"))
        assert latest["accuracy_reference"] == "golden"
        bare = loopback.get(f"{url}{latest['image']}", params={"boxes": "false"}, headers=headers, timeout=30)
        drawn = loopback.get(f"{url}{latest['image']}", headers=headers, timeout=30)
        assert bare.status_code == drawn.status_code == 200, bare.text
        image = cv2.imdecode(np.frombuffer(bare.content, np.uint8), cv2.IMREAD_COLOR)
        # the default plan's resolution, keeping the clip's 16:9 shape
        assert image is not None and abs(image.shape[1] / image.shape[0] - 768 / 432) < 0.02
    finally:
        ctl(home, "uninstall")
        stopped = dayu("stop", template, home)
        assert stopped.returncode == 0, stopped.stderr[-3000:]
