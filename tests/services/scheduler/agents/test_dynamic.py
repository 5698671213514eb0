"""``dynamic``: cloud on a fast link, least-loaded edge nodes otherwise, resolution by queue length."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from common.plan import ResourceReport
from common.task import Meta
from tests.services.scheduler.agents.synthetic import make_agent, request

pytestmark = pytest.mark.unit


def report(
    node: str, *, mbps: float | None = None, cpu: float = 0.5, memory: float = 0.5, queue: int = 0
) -> ResourceReport:
    return ResourceReport(
        node=node, at=time.time(), cpu=cpu, memory=memory, bandwidth_mbps=mbps, queue_lengths={"detect": queue}
    )


def test_a_fast_link_sends_every_stage_to_the_cloud() -> None:
    agent = make_agent("dynamic", {"bandwidth_mbps": 10, "seed": 1}, resources={"edge1": report("edge1", mbps=50)})
    assert agent.decide(request()).offload == {"d": "cloud", "c": "cloud"}


def test_a_slow_link_keeps_stages_on_the_edge_favouring_the_idle_node() -> None:
    resources = {
        "edge1": report("edge1", mbps=2, cpu=0.95, memory=0.95),
        "edge2": report("edge2", cpu=0.05, memory=0.05),
    }
    agent = make_agent("dynamic", {"bandwidth_mbps": 10, "seed": 3}, resources=resources)
    counts = Counter(agent.decide(request()).offload["d"] for _ in range(400))
    assert set(counts) <= {"edge1", "edge2"}
    # weights 0.05 vs 0.95: edge2 about 19 times as often
    assert counts["edge2"] > 10 * counts["edge1"]


def test_long_queues_lower_the_resolution_and_short_ones_restore_it() -> None:
    resources = {"edge1": report("edge1", mbps=50, queue=0), "cloud": report("cloud", queue=9)}
    agent = make_agent("dynamic", {"queue_high": 5, "seed": 1}, startup=Meta(resolution="720p"), resources=resources)
    assert agent.decide(request()).meta.resolution == "540p"
    assert agent.decide(request()).meta.resolution == "480p"
    resources["cloud"] = report("cloud", queue=0)
    agent.context.resources = resources
    assert agent.decide(request()).meta.resolution == "540p"
    assert agent.decide(request()).meta.resolution == "720p"
    assert agent.decide(request()).meta.resolution == "720p"  # never above the configured start
