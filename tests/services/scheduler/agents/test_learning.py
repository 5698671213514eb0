"""``casva`` and ``hei`` (PyTorch, the ``rl`` extra): shipped weights load, decisions move the right way on
synthetic feedback, online learning changes what the agent chooses, and the simulator behaves like a link and
a server."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from common.task import Meta
from services.scheduler.learning.simulator import SimModel, Simulator

pytest.importorskip("torch", reason="the learning agents need the rl extra (torch)")

import torch

from services.scheduler.agents.casva import shipped_weights
from tests.services.scheduler.agents.synthetic import (
    EPOCH,
    FakeClock,
    SkewedGenerator,
    feed,
    make_agent,
    request,
    task,
)

pytestmark = pytest.mark.unit
LADDERS = {"resolution": ["240p", "360p", "480p", "540p", "720p"]}
START = Meta(resolution="720p", fps=30, qp=24, buffer_size=4, encoding="h264")


def test_simulator_link_and_model_respond_to_the_knobs() -> None:
    model = SimModel()
    rich, poor = Meta(resolution="720p", qp=24), Meta(resolution="360p", qp=36)
    assert model.frame_bytes(rich) > 4 * model.frame_bytes(poor)
    assert model.model_ms(rich) > model.model_ms(poor) and model.accuracy(rich) > model.accuracy(poor)
    fast = Simulator([(0.0, 40.0)], seed=1).run(Meta(resolution="720p", fps=10, buffer_size=4), 20)
    slow = Simulator([(0.0, 0.5)], seed=1).run(Meta(resolution="720p", fps=10, buffer_size=4), 20)
    assert all(i.kind == "task" for i in fast)
    late = [i for i in slow if i.kind == "drop" or i.delay > 2.0]
    assert len(late) > len(slow) / 2  # 0.5 Mbit/s cannot carry 720p at 10 fps


@pytest.mark.parametrize("agent", ["casva", "hei"])
def test_shipped_weights_exist_and_load(agent: str) -> None:
    """Loaded: the agent's networks hold the file's tensors, and they decide otherwise than the same
    agent untrained (same seed) on the states the agent meets."""
    path = shipped_weights(agent, "latency-first")
    assert path.exists()
    params: dict[str, object] = {"ladders": LADDERS} if agent == "casva" else {"micro": {"ladders": LADDERS}}
    made = make_agent(agent, params)
    untrained = make_agent(agent, {**params, "pretrained": False})
    assert made.info()["weights"] == str(path) and untrained.info()["weights"] is None
    stored = torch.load(path, map_location="cpu", weights_only=True)
    sac, bare = made.sac, untrained.sac  # type: ignore[attr-defined]
    for net in ("actor", "q1", "q2"):
        mine = getattr(sac, net).state_dict()
        assert mine.keys() == stored[net].keys()
        assert all(torch.equal(mine[k], stored[net][k]) for k in mine), f"{net} is not the file's"
    states = [np.random.default_rng(n).random(sac.state_dim).astype(np.float32) for n in range(32)]
    shipped = [sac.act(s, explore=False) for s in states]
    assert shipped != [bare.act(s, explore=False) for s in states]


def test_casva_chooses_cheaper_segments_when_delays_explode_than_with_slack() -> None:
    """Same agent state except the feedback window: bad delays and a slow link vs fast, light tasks."""

    def bytes_after(delay: float, size: int) -> float:
        agent = make_agent("casva", {"ladders": LADDERS, "slo_s": 1.0, "seed": 3}, startup=START)
        agent.decide(request())
        meta = agent.decide(request()).meta
        for _ in range(3):
            feed(agent, [task(meta, delay, size=size, accuracy=0.8) for _ in range(8)])
            meta = agent.decide(request()).meta
        model = SimModel()
        return model.frame_bytes(meta) * meta.fps

    assert bytes_after(6.0, 900_000) < bytes_after(0.2, 20_000)


def test_casva_buffer_follows_fps_for_fixed_segment_seconds() -> None:
    agent = make_agent("casva", {"ladders": LADDERS, "segment_s": 0.5})
    meta = agent.decide(request()).meta
    assert meta.buffer_size == max(1, -(-int(meta.fps * 0.5 * 1000) // 1000))


def test_casva_learns_online_when_asked() -> None:
    """Feedback where every segment is as late as it is heavy (0.2 s + 1 s per 200 kB/s sent): the agent
    that learns from it ends up choosing far lighter segments, on the very states it met, than the same
    agent (same seed, same shipped weights) fed the same kind of feedback without learning."""
    model = SimModel()

    def send_rate(agent: Any, action: int) -> float:
        lad = agent.cfg.ladders
        res, fps, qp = agent.actions[action]
        meta = lad.set(lad.set(lad.set(agent.meta, "resolution", res), "fps", fps), "qp", qp)
        return float(model.frame_bytes(meta) * meta.fps)

    agents, met = {}, []
    for learn in (True, False):
        agent = make_agent("casva", {"ladders": LADDERS, "learn": learn, "seed": 1})
        for _ in range(100):
            meta = agent.decide(request()).meta
            if learn:
                met.append(agent.last[0])  # type: ignore[attr-defined]
            rate = model.frame_bytes(meta) * meta.fps
            feed(agent, [task(meta, 0.2 + rate / 200_000, accuracy=0.7)])
        agents[learn] = agent
    learned, frozen = agents[True], agents[False]
    assert learned.info()["updates"] > 0 and frozen.info()["updates"] == 0
    chose = [send_rate(learned, learned.sac.act(s, explore=False)) for s in met]  # type: ignore[attr-defined]
    would = [send_rate(frozen, frozen.sac.act(s, explore=False)) for s in met]  # type: ignore[attr-defined]
    assert sum(chose) < sum(would) / 2, (sum(chose) / len(met), sum(would) / len(met))


def test_hei_micro_loop_halves_knobs_between_macro_steps_on_violations() -> None:
    agent = make_agent("hei", {"slo_s": 1.0, "macro_every": 1000, "micro": {"ladders": LADDERS}}, startup=START)
    first = agent.decide(request()).meta  # the macro step
    feed(agent, [task(first, 3.0) for _ in range(4)])
    second = agent.decide(request()).meta  # micro: violation
    lad_res = LADDERS["resolution"]
    assert lad_res.index(second.resolution) == lad_res.index(first.resolution) // 2


def test_hei_split_point_moves_stages_between_edge_and_cloud() -> None:
    agent = make_agent("hei", {"macro_every": 1, "micro": {"ladders": LADDERS}, "seed": 2})
    splits = set()
    for _ in range(30):
        plan = agent.decide(request())
        on_edge = sum(1 for node in plan.offload.values() if node == "edge1")
        assert plan.offload == {s: ("edge1" if i < on_edge else "cloud") for i, s in enumerate(["d", "c"])}
        splits.add(on_edge)
        feed(agent, [task(plan.meta, 0.4) for _ in range(4)])  # the evidence each macro step waits for
    assert agent.info()["macro_steps"] == 30 and splits <= {0, 1, 2}


def test_hei_waits_for_tasks_made_after_its_last_macro_step_before_the_next() -> None:
    agent = make_agent("hei", {"macro_every": 1, "micro": {"ladders": LADDERS}, "seed": 2}, startup=START)
    stepped = agent.decide(request()).meta
    assert (stepped.resolution, stepped.fps, stepped.buffer_size) != (START.resolution, START.fps, START.buffer_size)
    # Made with the knobs before the step, in flight at it, received after it: says nothing of it.
    feed(agent, [task(START, 3.0) for _ in range(8)])
    for _ in range(5):
        agent.decide(request())
    assert agent.info()["macro_steps"] == 1 and agent.info()["macro_waits"] == 5
    feed(agent, [task(agent.decide(request()).meta, 0.4) for _ in range(4)])
    agent.decide(request())
    assert agent.info()["macro_steps"] == 2
    for _ in range(8):  # feedback lost: after 8 x macro_every decisions it acts anyway
        agent.decide(request())
    assert agent.info()["macro_steps"] == 3


Decision = tuple[str, float, int, tuple[str, ...], int, int]


def hei_run_with_generator_skew(skew_s: float) -> list[Decision]:
    """One feedback sequence, the generator's and controller's stamps ``skew_s`` off the scheduler's clock;
    per decision the knobs, placement, macro steps and macro waits so far. The scheduler's clock moves 2 s
    per decision."""
    clock = FakeClock(EPOCH)
    generator = SkewedGenerator(clock, skew_s)
    params = {"slo_s": 1.0, "macro_every": 1, "micro": {"ladders": LADDERS}, "seed": 2}
    agent = make_agent("hei", params, startup=START, clock=clock)
    decisions: list[Decision] = []

    def decide() -> Meta:
        plan = agent.decide(request())
        info = agent.info()
        meta = plan.meta
        placed = tuple(plan.offload[s] for s in ("d", "c"))
        decisions.append(
            (meta.resolution, meta.fps, meta.buffer_size, placed, info["macro_steps"], info["macro_waits"])
        )
        clock.advance(2.0)
        return meta

    made_before_step = clock() - 1.0
    stepped = decide()  # the first macro step
    assert (stepped.resolution, stepped.fps, stepped.buffer_size) != (START.resolution, START.fps, START.buffer_size)
    # Tasks made with the knobs before the step, in flight at it, say nothing of it.
    feed(agent, generator.made(START, 3.0, 8, at=made_before_step))
    for _ in range(3):
        current = decide()
    feed(agent, generator.made(current, 0.4, 4))
    current = decide()  # four tasks made after the step: the next one
    feed(agent, [*generator.made(current, 0.4, 2), *generator.dropped(current, 2)])
    decide()  # two tasks and two drops made after it: the next one
    return decisions


@pytest.mark.parametrize("skew_s", [-5.0, 5.0])
def test_hei_a_generator_clock_off_by_seconds_changes_no_decision(skew_s: float) -> None:
    """Evidence of a macro step is feedback received after it (the scheduler's receipt order) made with
    knobs served since it: a generator 5 s behind (new tasks look older than the step) or 5 s ahead (tasks
    made before it look newer) leads to the same decisions as one in step."""
    in_step = hei_run_with_generator_skew(0.0)
    assert [(steps, waits) for *_, steps, waits in in_step] == [(1, 0), (1, 1), (1, 2), (1, 3), (2, 3), (3, 3)]
    assert hei_run_with_generator_skew(skew_s) == in_step
