"""A task refused for a cyclic DAG takes its segment with it: nothing it uploaded stays in the work dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.wire import multipart_parts
from services.controller.config import ControllerConfig
from tests import loopback
from tests.services.controller.test_controller import FORK_JOIN, Cluster, make_task

pytestmark = pytest.mark.integration


def test_a_cyclic_task_upload_leaves_no_segment(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, ControllerConfig())
    with cluster.stack:
        task = make_task(FORK_JOIN, task_id=3)
        task.dag["d"].next = ["a"]
        task.dag["a"].prev = [*task.dag["a"].prev, "d"]
        response = loopback.post(cluster.urls["cloud"] + "/tasks", **multipart_parts(task, b"\x00" * 5000), timeout=10)
        assert response.status_code == 400 and "cycl" in response.json()["error"]["message"].lower()
        assert not (cluster.work["cloud"] / "seg-3.mp4").exists()
        assert [p.name for p in cluster.work["cloud"].iterdir() if not p.name.startswith(".")] == []


def test_tasks_in_flight_when_a_controller_died_become_drop_records(tmp_path: Path) -> None:
    """As after kill -9: the journal holds two copies the dead process had taken; the new one records them."""
    import json

    from common.outbox import SPOOL_DIR
    from services.controller.app import create_app
    from services.controller.config import ControllerSettings
    from services.controller.journal import InflightJournal
    from tests.e2e.cluster import wait_until
    from tests.servers import free_port, serve
    from tests.services.controller.test_controller import Recorder, fake_distributor

    work = tmp_path / "cloud"
    journal = InflightJournal(work / SPOOL_DIR / "controller-inflight")
    for task in (make_task(FORK_JOIN, task_id=i) for i in (7, 8)):
        journal.add(task)
    journal.close()  # the dead process's descriptor
    rec = Recorder()
    port = free_port()
    topology = {"nodes": {"cloud": {"role": "cloud", "components": {"distributor": {"port": port}}}}}
    settings = ControllerSettings(node="cloud", topology=json.dumps(topology), work_dir=work, config=None)
    with serve(fake_distributor(rec), port), serve(create_app(settings, ControllerConfig())):
        wait_until(lambda: len(rec.drops) >= 2, timeout=60, what="two drop records")
        wait_until(lambda: not journal.path.exists(), timeout=60, what="the journal read and cleared")
    assert sorted((d["task_id"], d["reason"]) for d in rec.drops) == [(7, "shutdown"), (8, "shutdown")]
