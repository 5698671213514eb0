"""``common.periodic.every``, the one loop of periodic background work (the backend's health, redeploy and
system sampling loops, the monitor's reports, the controller's and distributor's sweeps): when rounds run,
what is skipped, what a failed round logs. The pause and the clock are the test's own: no round waits on
real time."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import pytest

from common.errors import Unavailable
from common.periodic import LOGGED_WITH_TRACEBACK, ONE_LINE, Failures, every

pytestmark = pytest.mark.unit
log = logging.getLogger("tests.periodic")


class Ended(Exception):
    """Raised by the pause after the rounds a test wants: the way out of an endless loop."""


class Timeline:
    """A clock that only rounds move, and a pause that records each wait and ends the loop after ``rounds``."""

    def __init__(self, rounds: int, round_cost: float = 0.0) -> None:
        self.now = 100.0
        self.rounds = rounds
        self.round_cost = round_cost
        self.waits: list[float] = []
        self.events: list[str] = []

    def clock(self) -> float:
        return self.now

    async def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.events.append("wait")
        if self.events.count("wait") > self.rounds:
            raise Ended
        self.now += seconds

    async def action(self) -> None:
        self.events.append("round")
        self.now += self.round_cost


async def run(
    timeline: Timeline,
    action: Callable[[], Awaitable[None]] | None = None,
    *,
    skip: Callable[[], bool] | None = None,
    failures: Failures = ONE_LINE,
    first_now: bool = False,
    start_to_start: bool = False,
) -> None:
    """Every 5 s until the timeline ends the loop."""
    with pytest.raises(Ended):
        await every(
            5.0,
            action or timeline.action,
            what="sweep",
            log=log,
            skip=skip,
            failures=failures,
            first_now=first_now,
            start_to_start=start_to_start,
            wait=timeline.wait,
            clock=timeline.clock,
        )


async def test_the_first_round_runs_after_one_interval_and_each_next_after_a_rest() -> None:
    timeline = Timeline(rounds=3, round_cost=2.0)
    await run(timeline)
    assert timeline.events == ["wait", "round", "wait", "round", "wait", "round", "wait"]
    assert timeline.waits == [5.0, 5.0, 5.0, 5.0]


async def test_start_to_start_keeps_the_cadence_whatever_a_round_costs() -> None:
    timeline = Timeline(rounds=2, round_cost=2.0)
    await run(timeline, first_now=True, start_to_start=True)
    assert timeline.events[:2] == ["round", "wait"]
    assert timeline.waits == [3.0, 3.0, 3.0]


async def test_a_round_longer_than_the_interval_is_followed_at_once() -> None:
    timeline = Timeline(rounds=1, round_cost=7.0)
    await run(timeline, first_now=True, start_to_start=True)
    assert timeline.waits == [0.0, 0.0]


async def test_a_round_is_skipped_while_busy() -> None:
    timeline = Timeline(rounds=4)
    busy = iter([True, False, True, False])
    await run(timeline, skip=lambda: next(busy))
    assert timeline.events.count("round") == 2
    assert timeline.events.count("wait") == 5  # a skipped round still waits its interval


async def test_a_failed_round_is_one_line_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    timeline = Timeline(rounds=2)

    async def failing() -> None:
        timeline.events.append("round")
        raise Unavailable("the runtime is restarting")

    with caplog.at_level(logging.DEBUG, logger=log.name):
        await run(timeline, failing)
    assert timeline.events.count("round") == 2
    assert [(r.levelno, r.getMessage(), r.exc_info) for r in caplog.records] == [
        (logging.WARNING, "sweep failed: the runtime is restarting", None)
    ] * 2


async def test_a_round_that_should_not_fail_is_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    timeline = Timeline(rounds=1)

    async def failing() -> None:
        raise KeyError("entry")

    with caplog.at_level(logging.DEBUG, logger=log.name):
        await run(timeline, failing, failures=LOGGED_WITH_TRACEBACK)
    (record,) = caplog.records
    assert (record.levelno, record.getMessage()) == (logging.ERROR, "sweep failed")
    assert record.exc_info is not None and record.exc_info[0] is KeyError


async def test_an_error_not_named_ends_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    timeline = Timeline(rounds=3)

    async def buggy() -> None:
        raise TypeError("a bug")

    with pytest.raises(TypeError):
        await every(
            5.0,
            buggy,
            what="sweep",
            log=log,
            failures=Failures(errors=(Unavailable,), level=logging.DEBUG),
            wait=timeline.wait,
            clock=timeline.clock,
        )
    assert caplog.records == []
