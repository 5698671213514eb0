"""The shipped weights of ``casva`` (both reward modes) and ``hei`` move the way a user expects.

Open loop: two copies of an agent get the same decisions asked of them, and differ only in the feedback
they are fed: slow link with segments far over the SLO against a fast link with slack. Closed loop: the
agent drives the trace-driven simulator on a constant slow link and on a fast one. Both need the rl extra
(torch); no server runs because an agent is a plain object (the closed loop's link is the simulator's).
"""

from __future__ import annotations

import time

import pytest

from common.feedback import ContentFeatures, StageFeedback, TaskFeedback
from common.task import Meta
from services.scheduler.learning.simulator import SimModel, Simulator

pytest.importorskip("torch", reason="the learning agents need the rl extra (torch)")

from services.scheduler.agents.casva import shipped_weights
from services.scheduler.knobs import Ladders
from services.scheduler.learning.features import freshness, reward
from services.scheduler.learning.train import episode, make
from services.scheduler.learning.train import request as sim_request
from tests.services.scheduler.agents.synthetic import drop, feed, make_agent, request

pytestmark = pytest.mark.unit
LADDERS = {"resolution": ["240p", "360p", "480p", "540p", "720p"]}
START = Meta(resolution="720p", fps=30, qp=24, buffer_size=4, encoding="h264")
MODES = ["latency-first", "delivery-first"]
SLOW, FAST = 0.4, 40.0
CASVA_GAP = pytest.mark.xfail(
    strict=True,
    reason="known gap: the shipped latency-first casva weights fit the link in closed loop, but four decisions "
    "on a synthetic window are too few for them to leave their cold-start configuration by the factor asked; "
    "docs/policies.md reports it (the delivery-first weights pass)",
)
_ids = iter(range(10**9))


def link_task(meta: Meta, delay: float, mbps: float, *, stage: str = "c") -> TaskFeedback:
    """A task whose segment (sized as the simulator sizes it) crossed a link of ``mbps`` to the cloud."""
    size = int(SimModel().frame_bytes(meta) * meta.buffer_size)
    return TaskFeedback(
        source_id="cam1",
        task_id=next(_ids),
        source_node="edge1",
        created_at=time.time(),
        delay=delay,
        meta=meta,
        segment_bytes=size,
        stages=[
            StageFeedback(
                stage=stage,
                service="detect",
                node="cloud",
                transmit=size * 8 / (mbps * 1e6),
                queue=0.0,
                service_time=0.05,
            )
        ],
        content=ContentFeatures(obj_num=3.0, obj_size=0.02, obj_velocity=0.1),
        accuracy=0.8,
    )


def send_rate(meta: Meta) -> float:
    """Bits per second the knobs make, by the simulator's size model."""
    return SimModel().frame_bytes(meta) * 8 * meta.fps


def casva_after(mode: str, delay: float, mbps: float) -> Meta:
    agent = make_agent("casva", {"ladders": LADDERS, "slo_s": 1.0, "mode": mode, "seed": 3}, startup=START)
    meta = agent.decide(request()).meta
    for _ in range(4):
        feed(agent, [link_task(meta, delay, mbps) for _ in range(8)])
        meta = agent.decide(request()).meta
    return meta


@pytest.mark.parametrize("mode", [pytest.param("latency-first", marks=CASVA_GAP), "delivery-first"])
def test_shipped_casva_sends_less_over_a_slow_late_link_than_over_a_fast_one_with_slack(mode: str) -> None:
    assert shipped_weights("casva", mode).exists()
    slow, fast = casva_after(mode, 4.0, SLOW), casva_after(mode, 0.3, FAST)
    assert send_rate(slow) < send_rate(fast) / 2, (slow, fast)


@pytest.mark.parametrize("mode", MODES)
def test_shipped_casva_fits_its_segments_to_the_link_in_the_simulator(mode: str) -> None:
    """Closed loop, 40 decisions (80 s of video) per link: on 0.4 Mbit/s it must send less than the link
    carries and stay far less late than the richest configuration would; on 40 Mbit/s it sends more."""

    def run(mbps: float) -> dict[str, float]:
        agent = make("casva", {"ladders": LADDERS, "slo_s": 1.0, "mode": mode}, START)  # the stage on the cloud
        return episode(agent, Simulator([(0.0, mbps)], seed=5, velocity=0.1), 40, 2.0)

    slow, fast = run(SLOW), run(FAST)
    assert slow["mbit_per_s"] < SLOW < fast["mbit_per_s"], (slow, fast)
    assert slow["delay_mean"] < 2.0 and slow["drop_rate"] < 0.1, slow


def hei_after(delay: float, mbps: float, steps: int = 6) -> tuple[int, int]:
    """Knob rungs (resolution + fps) and split point after ``steps`` macro steps on the same feedback."""
    agent = make_agent("hei", {"slo_s": 1.0, "macro_every": 1, "micro": {"ladders": LADDERS}}, startup=START)
    req = sim_request()  # one service stage, as trained: split 0 = cloud, 1 = the source's node
    plan = agent.decide(req)
    for _ in range(steps):
        feed(agent, [link_task(plan.meta, delay, mbps, stage="s") for _ in range(4)])
        plan = agent.decide(req)
    lad = Ladders(**LADDERS)
    on_edge = sum(1 for node in plan.offload.values() if node == "edge1")
    return lad.index(plan.meta, "resolution") + lad.index(plan.meta, "fps"), on_edge


def test_shipped_hei_macro_lowers_knobs_or_moves_to_the_edge_on_a_slow_late_link() -> None:
    (slow_knobs, slow_split), (fast_knobs, fast_split) = hei_after(3.0, SLOW), hei_after(0.3, FAST)
    assert slow_knobs <= fast_knobs and slow_split >= fast_split, (slow_knobs, slow_split, fast_knobs, fast_split)
    assert slow_knobs < fast_knobs or slow_split > fast_split


def test_hei_learns_online_its_macro_networks_change() -> None:
    agent = make_agent("hei", {"slo_s": 1.0, "macro_every": 1, "learn": True, "seed": 4, "micro": {"ladders": LADDERS}})
    sac = agent.sac  # type: ignore[attr-defined]
    before = {name: p.detach().clone() for name, p in sac.actor.named_parameters()}
    q_before = {name: p.detach().clone() for name, p in sac.q1.named_parameters()}
    req = sim_request()
    counts = []
    for n in range(140):
        plan = agent.decide(req)
        # 4 tasks per decision: the evidence each macro step waits for before the next
        feed(agent, [link_task(plan.meta, 0.5 + (n % 3), FAST if n % 2 else SLOW, stage="s") for _ in range(4)])
        counts.append(agent.info()["updates"])
    assert counts[63] == 0 < counts[100] < counts[-1]  # from a full batch on (64 macro steps), and it goes on
    moved = [name for name, p in sac.actor.named_parameters() if not p.detach().equal(before[name])]
    q_moved = [name for name, p in sac.q1.named_parameters() if not p.detach().equal(q_before[name])]
    assert len(moved) == len(before) and len(q_moved) == len(q_before)


def test_hei_without_learn_keeps_its_networks() -> None:
    agent = make_agent("hei", {"macro_every": 1, "micro": {"ladders": LADDERS}})
    sac = agent.sac  # type: ignore[attr-defined]
    before = [p.detach().clone() for p in sac.actor.parameters()]
    for n in range(80):
        plan = agent.decide(sim_request())
        feed(agent, [link_task(plan.meta, 2.0 + n % 2, SLOW, stage="s") for _ in range(2)])
    assert agent.info()["updates"] == 0
    assert all(p.detach().equal(b) for p, b in zip(sac.actor.parameters(), before, strict=True))


def test_reward_never_pays_a_drop_better_than_a_late_task_and_values_fps_on_moving_content() -> None:
    meta = Meta(resolution="720p", fps=10, buffer_size=4)
    very_late = link_task(meta, 50.0, SLOW)
    for mode in MODES:
        assert reward([drop(meta)], 1.0, mode, 0.5) <= reward([very_late], 1.0, mode, 0.5)
        assert reward([link_task(meta, 0.5, FAST)], 1.0, mode, 0.5) > reward([very_late], 1.0, mode, 0.5)
    assert freshness(1, 0.2) < freshness(5, 0.2) < freshness(30, 0.2) < 1.0
    assert freshness(5, 0.01) > freshness(5, 0.3)  # a still scene loses little at low fps
