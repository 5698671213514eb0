"""Traffic shaping: the reservation each transfer gets on its link (computed, not timed on the wall)."""

from __future__ import annotations

import pytest

from common.errors import InvalidInput
from common.shaping import FileLedger, LinkSaturated, LinkSpec, TrafficShaper
from common.trace import parse_trace

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


def test_trace_sets_the_rate_and_delay_from_its_start():
    clock = FakeClock()
    wall = FakeClock()
    wall.now = 5000.0
    trace = parse_trace("t_s,mbit_per_s,delay_ms\n0,8,10\n2,1,100\n", mode="hold")
    spec = LinkSpec(bandwidth_mbps=40, trace=trace, trace_start=5000.0)
    shaper = TrafficShaper({"cloud": spec}, clock=clock, wall=wall)
    assert shaper.current("cloud") == {"bandwidth_mbps": 8, "latency_ms": 10}  # the trace wins over 40
    # 1 MB at 8 Mbit/s: one second, then the trace's 10 ms.
    assert shaper.reserve("cloud", MB) == pytest.approx(1.01)
    # Queued behind it from t=1: one more second at 8 Mbit/s reaches the drop at t=2 with 0 bytes left.
    assert shaper.reserve("cloud", MB) == pytest.approx(2.0 + 0.01)
    clock.now += 3
    wall.now += 3  # t=3 in the trace: 1 Mbit/s and 100 ms
    assert shaper.current("cloud") == {"bandwidth_mbps": 1, "latency_ms": 100}
    assert shaper.reserve("cloud", MB // 8) == pytest.approx(1.0 + 0.1)


def test_a_step_during_a_transfer_slows_its_rest():
    clock, wall = FakeClock(), FakeClock()
    trace = parse_trace("t_s,mbit_per_s\n0,8\n0.5,1\n", mode="hold")
    shaper = TrafficShaper({"cloud": LinkSpec(trace=trace, trace_start=wall.now)}, clock=clock, wall=wall)
    # Half a megabyte leaves in the first 0.5 s; the other half at 1 Mbit/s takes 4 s.
    assert shaper.reserve("cloud", MB) == pytest.approx(4.5)


def test_file_ledger_shares_one_link_between_shapers(tmp_path):
    clock = FakeClock()
    links = {"cloud": LinkSpec(bandwidth_mbps=8)}
    one = TrafficShaper(links, source="edge1", ledger=FileLedger(tmp_path), clock=clock)
    two = TrafficShaper(links, source="edge1", ledger=FileLedger(tmp_path), clock=clock)
    other_node = TrafficShaper(links, source="edge2", ledger=FileLedger(tmp_path), clock=clock)
    assert one.reserve("cloud", MB) == pytest.approx(1.0)
    assert two.reserve("cloud", MB) == pytest.approx(2.0)  # queued behind the other sender's booking
    assert other_node.reserve("cloud", MB) == pytest.approx(1.0)  # another node: another link
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edge1--cloud.link", "edge2--cloud.link"]


def test_a_wait_longer_than_the_limit_is_refused_without_booking():
    clock = FakeClock()
    shaper = TrafficShaper({"cloud": LinkSpec(bandwidth_mbps=8)}, clock=clock, max_queue_s=2.5)
    for _ in range(2):
        shaper.reserve("cloud", MB)
    with pytest.raises(LinkSaturated, match=r"link local--cloud is saturated: a transfer would take 3\.0s"):
        shaper.reserve("cloud", MB)  # queued 2 s plus its own second
    with pytest.raises(LinkSaturated):
        shaper.reserve("cloud", 3 * MB)  # 3 s on its own, behind 2 s of queue
    clock.now += 1.0  # one second drained: there is room again
    assert shaper.reserve("cloud", MB) == pytest.approx(2.0)


def test_kernel_shaped_link_adds_only_the_trace_delay():
    clock, wall = FakeClock(), FakeClock()
    trace = parse_trace("t_s,mbit_per_s,delay_ms\n0,8,30\n", mode="hold")
    spec = LinkSpec(bandwidth_mbps=8, latency_ms=5, trace=trace, trace_start=wall.now).without_bandwidth()
    shaper = TrafficShaper({"cloud": spec}, clock=clock, wall=wall)
    assert not spec.shaped
    assert shaper.reserve("cloud", MB) == pytest.approx(0.03)  # the rate is the kernel's business
    assert shaper.reserve("cloud", MB) == pytest.approx(0.03)  # and nothing queues here
