"""``hei-nf`` (micro negative feedback): knobs down on violations, up with slack, hold in between."""

from __future__ import annotations

import pytest

from common.task import Meta
from tests.services.scheduler.agents.synthetic import (
    EPOCH,
    FakeClock,
    SkewedGenerator,
    drop,
    feed,
    feed_delays,
    make_agent,
    request,
)

pytestmark = pytest.mark.unit
START = Meta(resolution="1080p", fps=30, buffer_size=4)


def test_a_violation_halves_every_adapted_knob() -> None:
    agent = make_agent("hei-nf", {"micro": {"slo_s": 1.0}}, startup=START)
    plan = feed_delays(agent, 1.5, 4)
    assert (plan.meta.resolution, plan.meta.fps) == ("540p", 15.0)


def test_step_retreat_moves_one_rung() -> None:
    agent = make_agent("hei-nf", {"micro": {"slo_s": 1.0, "retreat": "step"}}, startup=START)
    plan = feed_delays(agent, 1.5, 4)
    assert (plan.meta.resolution, plan.meta.fps) == ("720p", 25.0)


def test_slack_steps_one_knob_up_at_a_time_taking_turns() -> None:
    agent = make_agent("hei-nf", {"micro": {"slo_s": 1.0}}, startup=Meta(resolution="360p", fps=5))
    first = feed_delays(agent, 0.2, 4).meta
    second = feed_delays(agent, 0.2, 4).meta
    assert (first.resolution, first.fps) == ("480p", 5.0)
    assert (second.resolution, second.fps) == ("480p", 10.0)


def test_between_slack_and_constraint_it_holds_and_waits_for_enough_tasks() -> None:
    agent = make_agent("hei-nf", {"micro": {"slo_s": 1.0, "slack": 0.6}}, startup=START)
    assert feed_delays(agent, 0.8, 4).meta == agent.knobs()
    agent = make_agent("hei-nf", {"micro": {"slo_s": 1.0, "every": 4}}, startup=START)
    assert feed_delays(agent, 9.0, 3).meta.resolution == "1080p"


def test_per_frame_constraint_follows_fps() -> None:
    # 1.6 / fps per frame x 4 frames: at 10 fps a task may take 0.64 s, at 30 fps 0.21 s.
    slow_fps = make_agent("hei-nf", {}, startup=Meta(resolution="720p", fps=10, buffer_size=4))
    fast_fps = make_agent("hei-nf", {}, startup=Meta(resolution="720p", fps=30, buffer_size=4))
    assert feed_delays(slow_fps, 0.5, 4).meta.resolution == "720p"
    assert feed_delays(fast_fps, 0.5, 4).meta.resolution == "480p"


def test_drops_made_with_the_current_knobs_count_as_violations() -> None:
    agent = make_agent("hei-nf", {"micro": {"slo_s": 1.0}}, startup=START)
    agent.decide(request())
    feed(agent, [drop(START) for _ in range(4)])
    assert agent.decide(request()).meta.resolution == "540p"


def run_with_generator_skew(skew_s: float) -> list[tuple[str, float]]:
    """One feedback sequence, the generator's and controller's stamps ``skew_s`` off the scheduler's clock;
    the knobs of each decision. The scheduler's clock moves 2 s per decision."""
    clock = FakeClock(EPOCH)
    generator = SkewedGenerator(clock, skew_s)
    agent = make_agent("hei-nf", {"micro": {"slo_s": 1.0, "every": 4, "slack": 0.6}}, startup=START, clock=clock)
    decisions: list[tuple[str, float]] = []

    def decide() -> Meta:
        meta = agent.decide(request()).meta
        decisions.append((meta.resolution, meta.fps))
        clock.advance(2.0)
        return meta

    first = decide()  # 1080p 30
    made_before_change = clock() - 1.0
    feed(agent, generator.made(first, 1.5, 4))
    second = decide()  # violation: both knobs halved, 540p 15
    feed(agent, generator.made(first, 3.0, 4, at=made_before_change))  # in flight at the change
    decide()  # no task of 540p 15 yet: holds
    feed(agent, generator.made(second, 0.8, 4))
    decide()  # between slack and the constraint: holds, and that window is judged
    feed(agent, generator.made(second, 0.2, 2))
    decide()  # two fresh tasks only: holds (the judged ones do not count again)
    feed(agent, generator.made(second, 0.2, 2))
    third = decide()  # four fresh tasks with slack: resolution up, 720p 15
    feed(agent, generator.dropped(third, 4))
    decide()  # four drops: both halved, 480p 5
    return decisions


@pytest.mark.parametrize("skew_s", [-5.0, 5.0])
def test_a_generator_clock_off_by_seconds_changes_no_decision(skew_s: float) -> None:
    """A window is "received since the last judged one", by the scheduler's receipt order: a generator 5 s
    behind (new tasks look older than the last judgement) or 5 s ahead (judged tasks look newer) leads to the
    same decisions as one in step."""
    expected = [
        ("1080p", 30.0),
        ("540p", 15.0),
        ("540p", 15.0),
        ("540p", 15.0),
        ("540p", 15.0),
        ("720p", 15.0),
        ("480p", 5.0),
    ]
    assert run_with_generator_skew(0.0) == expected
    assert run_with_generator_skew(skew_s) == expected
