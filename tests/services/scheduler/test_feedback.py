"""Feedback at a real scheduler: the contract, the bounded per-source history, agents rebuilt after a restart."""

from __future__ import annotations

import time

import pytest

from common.feedback import ContentFeatures, TaskFeedback
from common.task import Meta
from tests import loopback
from tests.services.scheduler.test_app import plan_of, plan_request, start

pytestmark = pytest.mark.integration


def feedback(task_id: int, delay: float, resolution: str = "720p") -> TaskFeedback:
    return TaskFeedback(
        source_id="cam1",
        task_id=task_id,
        source_node="edge2",
        created_at=time.time(),
        delay=delay,
        meta=Meta(resolution=resolution, fps=10),
        segment_bytes=50_000,
        content=ContentFeatures(obj_num=2),
    )


def test_history_is_bounded_per_source() -> None:
    with start({"history": 8}) as url:
        for i in range(20):
            answer = loopback.post(f"{url}/feedback", json=feedback(i, 0.5).model_dump(mode="json"))
            assert answer.status_code == 200 and answer.json() == {"accepted": "cam1", "kind": "task"}
        stats = loopback.get(f"{url}/stats").json()
    assert stats["history"]["cam1"]["tasks"] == 20 and stats["history"]["cam1"]["kept"] == 8
    assert stats["feedback"]["tasks"] == 20


def test_a_restarted_scheduler_rebuilds_the_agent_from_feedback_and_adapts() -> None:
    """The first scheduler is gone; the new one sees feedback of a running source before any plan request."""
    config = {
        "agent": {"alias": "fc", "params": {"slo_s": 1.0, "min_tasks": 3}},
        "startup": {"meta": {"resolution": "720p", "fps": 10}},
    }
    with start(config) as url:
        for i in range(5):
            loopback.post(f"{url}/feedback", json=feedback(i, 3.0).model_dump(mode="json")).raise_for_status()
        stats = loopback.get(f"{url}/stats").json()
        plan = plan_of(url, plan_request())
    assert stats["agents"] == {"cam1": "fc"} and stats["feedback"]["agents_rebuilt"] == 1
    assert plan["plan"]["meta"]["resolution"] == "480p"  # 720p is index 3: halved to 1 by the rebuilt history


def test_malformed_feedback_is_a_400_naming_the_field() -> None:
    with start({}) as url:
        body = feedback(1, 0.5).model_dump(mode="json")
        bad = loopback.post(f"{url}/feedback", json={**body, "delay": -2})
        kind = loopback.post(f"{url}/feedback", json={**body, "kind": "weird"})
        stats = loopback.get(f"{url}/stats").json()
    assert bad.status_code == 400 and "delay" in bad.json()["error"]["message"]
    assert kind.status_code == 400 and "malformed feedback" in kind.json()["error"]["message"]
    assert stats["feedback"]["tasks"] == 0 and stats["agents"] == {}
