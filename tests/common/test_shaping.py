"""Traffic shaping: the reservation each transfer gets on its link (computed, not timed on the wall)."""

from __future__ import annotations

import pytest

from common.errors import InvalidInput
from common.shaping import LinkSpec, TrafficShaper

pytestmark = pytest.mark.unit

MB = 1_000_000


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_one_megabyte_over_eight_megabits_takes_one_second():
    clock = FakeClock()
    shaper = TrafficShaper({"edge1": LinkSpec(bandwidth_mbps=8)}, clock=clock)
    assert shaper.reserve("edge1", MB) == pytest.approx(1.0)


def test_transfers_queue_behind_each_other_and_latency_is_not_serialised():
    clock = FakeClock()
    shaper = TrafficShaper({"edge1": LinkSpec(bandwidth_mbps=8, latency_ms=20)}, clock=clock)
    assert shaper.reserve("edge1", MB) == pytest.approx(1.02)
    # Sent at once after the first: waits for the link to be free, then its own second, then latency.
    assert shaper.reserve("edge1", MB) == pytest.approx(2.02)
    clock.now += 1.5
    assert shaper.reserve("edge1", MB // 2) == pytest.approx(0.5 + 0.5 + 0.02)
    clock.now += 10  # the link went idle: no queue any more
    assert shaper.reserve("edge1", 0) == pytest.approx(0.02)


def test_links_are_independent_and_unknown_nodes_are_unshaped():
    clock = FakeClock()
    shaper = TrafficShaper({"a": LinkSpec(bandwidth_mbps=8), "b": LinkSpec(bandwidth_mbps=80)}, clock=clock)
    assert shaper.reserve("a", MB) == pytest.approx(1.0)
    assert shaper.reserve("b", MB) == pytest.approx(0.1)
    assert shaper.reserve("c", MB) == 0.0
    assert shaper.reserve(None, MB) == 0.0


def test_latency_only_link():
    shaper = TrafficShaper({"a": LinkSpec(latency_ms=50)}, clock=FakeClock())
    assert shaper.reserve("a", 10 * MB) == pytest.approx(0.05)


async def test_wait_sleeps_the_reserved_time():
    clock = FakeClock()
    shaper = TrafficShaper({"edge1": LinkSpec(bandwidth_mbps=16)}, clock=clock, sleep=clock.sleep)
    assert await shaper.wait("edge1", MB) == pytest.approx(0.5)
    assert await shaper.wait("elsewhere", MB) == 0.0
    assert clock.slept == [pytest.approx(0.5)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bandwidth_mbps": 0},
        {"bandwidth_mbps": -1},
        {"bandwidth_mbps": float("nan")},
        {"latency_ms": -1},
        {"latency_ms": float("inf")},
    ],
)
def test_bad_link_specs_are_refused(kwargs):
    with pytest.raises(InvalidInput, match="link"):
        LinkSpec(**kwargs)


def test_negative_size_is_refused():
    with pytest.raises(InvalidInput, match="negative"):
        TrafficShaper({"a": LinkSpec(bandwidth_mbps=1)}).reserve("a", -1)
