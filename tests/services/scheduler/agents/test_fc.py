"""``fc`` (SenSys'21 delay feedback): the direction of each decision from synthetic delays."""

from __future__ import annotations

import pytest

from common.task import Meta
from services.scheduler.agents.fc import next_index, task_error
from tests.services.scheduler.agents.synthetic import (
    EPOCH,
    FakeClock,
    SkewedGenerator,
    drop,
    feed,
    feed_delays,
    make_agent,
    request,
    task,
)

pytestmark = pytest.mark.unit
START = Meta(resolution="1080p", fps=30, buffer_size=4)


def test_error_is_negative_slack_under_and_squared_excess_over() -> None:
    assert task_error(0.4, 1.0) == pytest.approx(-0.6)
    assert task_error(1.5, 1.0) == pytest.approx(0.25)
    assert task_error(1.0, 1.0) == 0.0


def test_rule_halves_on_non_negative_error_steps_up_on_slack_holds_between() -> None:
    assert next_index(4, 0.0, 0.1, 4) == 2
    assert next_index(3, 0.3, 0.1, 4) == 1
    assert next_index(1, -0.2, 0.1, 4) == 2
    assert next_index(4, -0.9, 0.1, 4) == 4  # already at the top
    assert next_index(2, -0.05, 0.1, 4) == 2


def test_delays_over_the_slo_halve_the_resolution_index() -> None:
    agent = make_agent("fc", {"slo_s": 1.0}, startup=START)  # 1080p is index 4 of 360/480/540/720/1080
    assert feed_delays(agent, 2.0, 8).meta.resolution == "540p"  # index 2
    assert feed_delays(agent, 2.0, 8).meta.resolution == "480p"  # index 1
    assert feed_delays(agent, 2.0, 8).meta.resolution == "360p"  # index 0 and stays there
    assert feed_delays(agent, 2.0, 8).meta.resolution == "360p"


def test_slack_steps_the_resolution_up_one_rung_at_a_time() -> None:
    agent = make_agent("fc", {"slo_s": 1.0}, startup=Meta(resolution="360p", fps=10))
    assert feed_delays(agent, 0.3, 8).meta.resolution == "480p"
    assert feed_delays(agent, 0.3, 8).meta.resolution == "540p"


def test_a_small_slack_holds_and_too_few_tasks_wait() -> None:
    agent = make_agent("fc", {"slo_s": 1.0, "theta_s": 0.2, "min_tasks": 3}, startup=Meta(resolution="540p"))
    assert feed_delays(agent, 0.9, 8).meta.resolution == "540p"  # error -0.1 > -theta
    agent = make_agent("fc", {"slo_s": 1.0, "min_tasks": 3}, startup=Meta(resolution="540p"))
    assert feed_delays(agent, 5.0, 2).meta.resolution == "540p"  # two tasks only: no decision yet


def test_only_tasks_made_with_the_current_configuration_are_judged() -> None:
    agent = make_agent("fc", {"slo_s": 1.0}, startup=START)
    assert feed_delays(agent, 2.0, 8).meta.resolution == "540p"
    # Late tasks of the old 1080p configuration arrive: they must not halve the new one again.
    feed(agent, [task(START, 3.0) for _ in range(8)])
    assert agent.decide(request()).meta.resolution == "540p"


def test_drops_count_as_violations_and_fps_follows_when_enabled() -> None:
    agent = make_agent("fc", {"slo_s": 1.0, "adapt_fps": True}, startup=START)
    feed(agent, [drop(START) for _ in range(4)])
    plan = agent.decide(request())
    assert plan.meta.resolution == "540p" and plan.meta.fps == 15.0  # fps index 6 -> 3
    # The placement stays the startup plan's (source node) whatever the knobs do.
    assert plan.offload == {"d": "edge1", "c": "edge1"}


def run_with_generator_skew(skew_s: float) -> list[str]:
    """One feedback sequence, the generator's and controller's stamps ``skew_s`` off the scheduler's clock;
    the resolution of each decision. The scheduler's clock moves 2 s per decision and feedback arrives
    between decisions, as it would from a live source."""
    clock = FakeClock(EPOCH)
    generator = SkewedGenerator(clock, skew_s)
    agent = make_agent("fc", {"slo_s": 1.0}, startup=START, clock=clock)
    decisions: list[str] = []

    def decide() -> Meta:
        meta = agent.decide(request()).meta
        decisions.append(meta.resolution)
        clock.advance(2.0)
        return meta

    first = decide()  # 1080p
    made_before_change = clock() - 1.0
    feed(agent, generator.made(first, 2.0, 8))
    second = decide()  # late: 540p
    # Tasks and a drop of the old configuration, in flight at the change, arrive after it.
    feed(agent, [*generator.made(first, 3.0, 8, at=made_before_change), *generator.dropped(first, 1)])
    decide()  # nothing made with 540p yet: holds
    feed(agent, generator.made(second, 0.3, 3))
    third = decide()  # slack: 720p
    feed(agent, generator.made(third, 0.3, 2))
    decide()  # two tasks only: holds
    feed(agent, generator.dropped(third, 2))
    decide()  # two drops (d = 2D) outweigh the slack: index 3 halved to 1, 480p
    return decisions


@pytest.mark.parametrize("skew_s", [-5.0, 5.0])
def test_a_generator_clock_off_by_seconds_changes_no_decision(skew_s: float) -> None:
    """Feedback after a change is told by the scheduler's receipt order, not by comparing the generator's
    stamps with the scheduler's clock: a generator 5 s behind (whose new tasks look older than the change) or
    5 s ahead (whose old tasks look newer) leads to the same decisions as one in step."""
    expected = ["1080p", "540p", "540p", "720p", "720p", "480p"]
    assert run_with_generator_skew(0.0) == expected
    assert run_with_generator_skew(skew_s) == expected


def test_drops_of_the_configuration_before_a_change_are_not_judged() -> None:
    agent = make_agent("fc", {"slo_s": 1.0, "min_tasks": 3}, startup=START)
    assert feed_delays(agent, 2.0, 8).meta.resolution == "540p"
    # Three drops of 1080p tasks in flight at the change would halve 540p again if they counted.
    feed(agent, [drop(START) for _ in range(3)])
    assert agent.decide(request()).meta.resolution == "540p"
    feed(agent, [drop(Meta(resolution="540p", fps=30, buffer_size=4)) for _ in range(3)])
    assert agent.decide(request()).meta.resolution == "480p"
