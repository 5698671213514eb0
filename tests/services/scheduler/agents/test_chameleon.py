"""``chameleon``: knob-at-a-time profiling against golden, independence, top-k, cheapest above target."""

from __future__ import annotations

import pytest

from common.task import Meta
from tests.services.scheduler.agents.synthetic import FakeClock, feed, make_agent, request, task

pytestmark = pytest.mark.unit
LADDERS = {"resolution": ["360p", "540p", "1080p"], "fps": [5, 10, 30]}
RES_ACC = {"360p": 0.5, "540p": 0.95, "1080p": 1.0}
FPS_ACC = {5.0: 0.6, 10.0: 0.9, 30.0: 1.0}
RES_BYTES = {"360p": 10_000, "540p": 25_000, "1080p": 90_000}


def world(meta: Meta, *, truth: bool = True) -> tuple[float | None, int, float]:
    """(accuracy, segment bytes, objects per frame) a synthetic scene gives at ``meta``."""
    accuracy = RES_ACC[meta.resolution] * FPS_ACC[float(meta.fps)]
    return (accuracy if truth else None), RES_BYTES[meta.resolution], 10 * accuracy


def run(
    agent_params: dict[str, object], decisions: int, *, truth: bool = True, clock: FakeClock | None = None
) -> tuple[list[Meta], object]:
    """``decisions`` decisions one second apart on ``clock``, each answered at once by the synthetic scene."""
    clock = clock or FakeClock()
    agent = make_agent(
        "chameleon", {"ladders": LADDERS, **agent_params}, startup=Meta(resolution="540p", fps=10), clock=clock
    )
    served = []
    for _ in range(decisions):
        plan = agent.decide(request())
        served.append(plan.meta)
        accuracy, size, objects = world(plan.meta, truth=truth)
        feed(agent, [task(plan.meta, 0.5, accuracy=accuracy, size=size, obj_num=objects)])
        clock.advance(1.0)
    return served, agent


def test_profiling_runs_golden_first_then_one_knob_at_a_time_on_the_cloud() -> None:
    agent = make_agent("chameleon", {"ladders": LADDERS})
    first = agent.decide(request())
    assert (first.meta.resolution, first.meta.fps) == ("1080p", 30.0)
    assert set(first.offload.values()) == {"cloud"}
    probes = [(m.resolution, m.fps) for m in agent.queue]  # type: ignore[attr-defined]
    assert probes == [("360p", 30.0), ("540p", 30.0), ("1080p", 5.0), ("1080p", 10.0)]


def test_after_profiling_it_serves_the_cheapest_configuration_above_target() -> None:
    served, agent = run({"target": 0.8, "profile_window_s": 3600}, 10)
    # 540p x 10 fps: 0.95 * 0.9 = 0.855 >= 0.8 and costs 25000*10/4; 540p x 30 costs more; 360p fails.
    assert (served[-1].resolution, served[-1].fps) == ("540p", 10.0)
    info = agent.info()  # type: ignore[attr-defined]
    assert info["rounds"] == 1 and info["profiling_tasks"] == 5 and info["profiling_bytes"] > 0
    assert len(info["shortlist"]) <= 3


def test_a_higher_target_buys_a_richer_configuration() -> None:
    served, _ = run({"target": 0.94, "profile_window_s": 3600}, 10)
    assert (served[-1].resolution, served[-1].fps) in {("540p", 30.0), ("1080p", 30.0)}
    assert RES_ACC[served[-1].resolution] * FPS_ACC[served[-1].fps] >= 0.94


def test_without_ground_truth_objects_found_relative_to_golden_score_configurations() -> None:
    served, _ = run({"target": 0.8, "profile_window_s": 3600}, 10, truth=False)
    assert (served[-1].resolution, served[-1].fps) == ("540p", 10.0)


def test_profiling_repeats_every_window() -> None:
    """Round 1 serves five configurations (t=0..4) and ranks at t=5; the next round is due at t=5+10."""
    _, agent = run({"target": 0.8, "profile_window_s": 10}, 15)  # decisions at t=0..14
    assert agent.info()["rounds"] == 1  # type: ignore[attr-defined]
    _, agent = run({"target": 0.8, "profile_window_s": 10}, 16)  # t=15: the window has passed
    assert agent.info()["rounds"] == 2  # type: ignore[attr-defined]


def test_a_round_serves_each_configuration_once_without_waiting_for_its_results() -> None:
    """Results come back a delay later: the round goes on meanwhile and ranks once they are all in."""
    agent = make_agent("chameleon", {"ladders": LADDERS, "target": 0.8}, startup=Meta(resolution="540p", fps=10))
    served = [agent.decide(request()).meta for _ in range(5)]  # no feedback yet
    assert [(m.resolution, m.fps) for m in served] == [
        ("1080p", 30.0),
        ("360p", 30.0),
        ("540p", 30.0),
        ("1080p", 5.0),
        ("1080p", 10.0),
    ]
    waiting = agent.decide(request())  # every configuration served; results not back: the startup knobs
    assert (waiting.meta.resolution, waiting.meta.fps) == ("540p", 10.0)
    assert set(waiting.offload.values()) == {"edge1"}  # placed as the startup plan, not on the cloud
    assert agent.info()["profiling"] is True  # type: ignore[attr-defined]
    for meta in served:
        accuracy, size, objects = world(meta)
        feed(agent, [task(meta, 0.5, accuracy=accuracy, size=size, obj_num=objects)])
    ranked = agent.decide(request())
    assert (ranked.meta.resolution, ranked.meta.fps) == ("540p", 10.0)
    assert agent.info()["profiling"] is False and agent.info()["shortlist"]  # type: ignore[attr-defined]


def test_a_round_whose_golden_result_never_comes_keeps_what_was_served() -> None:
    clock = FakeClock()
    agent = make_agent(
        "chameleon",
        {"ladders": LADDERS, "probe_timeout_s": 5},
        startup=Meta(resolution="540p", fps=10),
        clock=clock,
    )
    for _ in range(5):
        agent.decide(request())
    still = agent.decide(request())  # no timeout yet: still collecting
    assert agent.info()["profiling"] is True  # type: ignore[attr-defined]
    assert (still.meta.resolution, still.meta.fps) == ("540p", 10.0)
    clock.advance(6)
    after = agent.decide(request())  # timed out with no result at all: nothing to rank against
    assert (after.meta.resolution, after.meta.fps) == ("540p", 10.0)
    assert agent.info()["shortlist"] == []  # type: ignore[attr-defined]
