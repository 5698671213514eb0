"""A task refused for a cyclic DAG takes its segment with it: nothing it uploaded stays in the work dir."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from common.wire import multipart_parts
from services.controller.config import ControllerConfig
from tests.services.controller.test_controller import FORK_JOIN, Cluster, make_task

pytestmark = pytest.mark.integration


def test_a_cyclic_task_upload_leaves_no_segment(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, ControllerConfig())
    with cluster.stack:
        task = make_task(FORK_JOIN, task_id=3)
        task.dag["d"].next = ["a"]
        task.dag["a"].prev = [*task.dag["a"].prev, "d"]
        response = httpx.post(cluster.urls["cloud"] + "/tasks", **multipart_parts(task, b"\x00" * 5000), timeout=10)
        assert response.status_code == 400 and "cycl" in response.json()["error"]["message"].lower()
        assert not (cluster.work["cloud"] / "seg-3.mp4").exists()
        assert [p.name for p in cluster.work["cloud"].iterdir() if not p.name.startswith(".")] == []
