"""The runtime services started as their own processes (``python -m services.<name>``), as deployed."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest

from tests import loopback
from tests.servers import spawn
from tests.services.scheduler.test_app import plan_request

pytestmark = pytest.mark.e2e

RSS_LIMIT_MB = 150


def test_scheduler_and_distributor_processes_serve_within_memory(tmp_path: Path) -> None:
    scheduler_env = {"DAYU_CONFIG": json.dumps({"agent": {"alias": "cloud-only"}}), "DAYU_TOKEN": "s3cret"}
    with spawn("services.scheduler", scheduler_env) as (scheduler, url):
        headers = {"Authorization": "Bearer s3cret"}
        refused = loopback.post(f"{url}/plan", json=plan_request())
        plans = [loopback.post(f"{url}/plan", json=plan_request(), headers=headers) for _ in range(50)]
        stats = loopback.get(f"{url}/stats", headers=headers).json()
        distributor_env = {"DAYU_WORK_DIR": str(tmp_path), "DAYU_CONFIG": json.dumps({"scheduler_url": url})}
        with spawn("services.distributor", distributor_env) as (distributor, _):
            rss = {
                "scheduler": psutil.Process(scheduler.pid).memory_info().rss / 2**20,
                "distributor": psutil.Process(distributor.pid).memory_info().rss / 2**20,
            }
    print(f"RSS MB: {rss}; decision ms: {stats['decision_ms']}")
    assert refused.status_code == 401
    assert all(p.status_code == 200 for p in plans)
    assert plans[-1].json()["plan"]["offload"] == {"d": "cloud", "c": "cloud"}
    assert stats["decision_ms"]["count"] == 50
    for name, mb in rss.items():
        assert mb < RSS_LIMIT_MB, f"{name} uses {mb:.0f} MB RSS"
