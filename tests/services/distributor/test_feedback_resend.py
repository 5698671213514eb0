"""Feedback sent while the scheduler is down reaches it once it is back: every task's and drop's
feedback exactly once, in order, with nothing skipped (real distributor, real scheduler, loopback)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from common.records import DropReason, DropRecord
from services.scheduler.app import create_app as create_scheduler
from services.scheduler.config import SchedulerConfig
from services.scheduler.settings import SchedulerSettings
from tests import loopback
from tests.e2e.cluster import wait_until
from tests.servers import free_port, serve
from tests.services.distributor.test_app import finished_task, post_result, start

pytestmark = pytest.mark.integration


def test_feedback_lost_to_an_outage_is_sent_again(tmp_path: Path) -> None:
    port = free_port()
    scheduler = f"http://127.0.0.1:{port}"
    config = {"feedback": True, "scheduler_url": scheduler, "feedback_retries": 0, "feedback_timeout": 0.5}
    with start(tmp_path, **config) as url:
        for i in range(6):
            assert post_result(url, finished_task(i)).json()["status"] == "stored"
        drop = DropRecord.of(finished_task(6).with_cursor("detect"), DropReason.TIMEOUT, "slow")
        assert loopback.post(f"{url}/drops", content=drop.model_dump_json()).json()["status"] == "stored"
        # The outage lasts until the sender has failed at least once, however long that takes here.
        wait_until(lambda: 'outcome="failed"' in loopback.get(f"{url}/metrics").text, timeout=60, what="a failed send")
        with serve(create_scheduler(SchedulerSettings(), SchedulerConfig()), port=port):

            def all_arrived() -> bool:
                feedback = loopback.get(f"{scheduler}/stats").json()["feedback"]
                return bool(feedback["tasks"] + feedback["drops"] >= 7)

            # The sender's wait between tries has grown to at most 10 s during the outage.
            wait_until(all_arrived, timeout=90, interval=0.1, what="every feedback at the scheduler")
            time.sleep(0.5)  # nothing more may arrive: each one exactly once
            stats: dict[str, Any] = loopback.get(f"{scheduler}/stats").json()
            metrics = loopback.get(f"{url}/metrics").text
    assert stats["feedback"]["tasks"] == 6 and stats["feedback"]["drops"] == 1
    assert stats["history"][finished_task(0).source_id]["tasks"] == 6
    assert 'dayu_distributor_feedback_total{outcome="sent"} 7.0' in metrics
    assert 'outcome="skipped"' not in metrics and 'outcome="rejected"' not in metrics
