"""Reproducible training, and training that sees what the live platform shows.

The training command is run in-process on a short schedule (seconds, not the shipped run's minutes); the
simulator's link is checked against the transport's real traffic shaper (``common.shaping``, driven by an
injected clock instead of sleeping) on the same trace and segments. Needs the rl extra (torch).
"""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import pytest

from common.shaping import LinkSpec, MemoryLedger, TrafficShaper
from common.task import Meta
from common.trace import Trace, TracePoint
from services.scheduler.learning.features import bandwidth_mbps
from services.scheduler.learning.simulator import Simulator, random_trace

pytest.importorskip("torch", reason="the learning agents need the rl extra (torch)")

import torch

from services.scheduler.agents.casva import GRID, actions
from services.scheduler.knobs import Ladders
from services.scheduler.learning.train import STARTUP, main, make, params_for
from tests.services.scheduler.agents.synthetic import feed, make_agent, request, task

pytestmark = pytest.mark.unit
NETS = ("actor", "q1", "q2")
META = Meta(resolution="720p", fps=10, buffer_size=4, qp=26, encoding="h264")


def _train(tmp_path: Path, agent: str, seed: int, name: str) -> Path:
    out = tmp_path / name
    # More transitions than a batch, so the networks are updated (hei learns only at its macro steps).
    episodes = "4" if agent == "casva" else "10"
    argv = ["--agent", agent, "--seed", str(seed), "--episodes", episodes, "--decisions", "60", "--out", str(out)]
    assert main([*argv, "--no-report"]) == 0
    return out


def _same(a: Path, b: Path) -> bool:
    x = torch.load(a, map_location="cpu", weights_only=True)
    y = torch.load(b, map_location="cpu", weights_only=True)
    return all(x[n].keys() == y[n].keys() and all(torch.equal(x[n][k], y[n][k]) for k in x[n]) for n in NETS)


@pytest.mark.parametrize("agent", ["casva", "hei"])
def test_training_command_with_the_same_seed_writes_the_same_weights_bit_for_bit(agent: str, tmp_path: Path) -> None:
    """Same seed: identical tensors and the same greedy decisions on one fixed feedback sequence. Another
    seed: other weights (so the comparison can fail), and training moved the networks off their start."""
    first = _train(tmp_path, agent, 11, "a.pt")
    again = _train(tmp_path, agent, 11, "b.pt")
    other = _train(tmp_path, agent, 12, "c.pt")
    assert _same(first, again)
    assert not _same(first, other)
    untrained = make(agent, params_for(agent, "latency-first", 1.0, 11, learn=False), STARTUP)
    untrained.sac.save(tmp_path / "start.pt")  # type: ignore[attr-defined]
    assert not _same(first, tmp_path / "start.pt"), "the short run never updated the networks"

    def decisions(weights: Path) -> list[Meta]:
        params = {**params_for(agent, "latency-first", 1.0, 0, learn=False), "pretrained": True}
        player = make(agent, {**params, "weights": str(weights)}, STARTUP)
        out = []
        for n in range(12):
            meta = player.decide(request()).meta
            out.append(meta)
            feed(player, [task(meta, 0.3 + 0.4 * (n % 4), size=20_000 * (1 + n % 5)) for _ in range(4)])
        return out

    assert decisions(first) == decisions(again)


def test_simulated_transmit_is_what_the_live_shaper_holds_a_segment_queue_and_outage_included() -> None:
    """Segments made faster than the link carries them, across an outage second: the simulator's transmit
    equals what the transport's shaper makes the controller wait (queue + transfer),
    so the bandwidth feature reads a backlog as a slower link in training as it does live."""
    points = [(0.0, 2.0), (3.0, 0.0), (4.0, 2.0)]
    sim = Simulator(points, seed=5)
    now = [0.0]
    trace = Trace([TracePoint(t, r) for t, r in points], mode="hold")
    spec = LinkSpec(trace=trace, trace_start=0.0, latency_ms=sim.model.link_latency_s * 1000)
    shaper = TrafficShaper(
        {"cloud": spec}, source="edge1", ledger=MemoryLedger(), clock=lambda: now[0], wall=lambda: now[0]
    )
    seen, fbs = [], []
    for k in range(30):
        made = 0.12 * k  # 40 kB every 0.12 s on 2 Mbit/s (0.16 s each): a queue builds
        fb = sim.segment(META, made, offloaded=True)
        assert fb.kind == "task"
        now[0] = made
        live = shaper.reserve("cloud", fb.segment_bytes or 0)
        simulated = fb.stages[0].transmit
        assert simulated is not None and simulated == pytest.approx(live, abs=1e-9)
        seen.append(simulated)
        fbs.append(fb)
    # The backlog builds: later segments wait behind earlier ones, and the one made in the outage waits it out.
    assert seen[-1] > 3 * seen[0] and seen == sorted(seen)
    first, last = bandwidth_mbps(fbs[0]), bandwidth_mbps(fbs[-1])
    assert first is not None and 1.5 < first < 2.0  # alone on the link: about its rate
    assert last is not None and last < first / 3  # behind a backlog: the link looks slower, as it does live


def test_simulator_survives_outages_and_resumes_traffic() -> None:
    """0 Mbit/s seconds: nothing divides by the rate, traffic waits and then flows; a trace that ends in an
    outage drops what it can never carry instead of hanging or crashing."""
    sim = Simulator([(0.0, 10.0), (2.0, 0.0), (3.0, 10.0)], seed=2)
    items = sim.run(META, 8.0)
    assert len(items) >= 15 and all(i.kind == "task" for i in items)
    assert sim.finish(1.9, 250_000) == pytest.approx(3.0 + (250_000 * 8 - 0.1 * 10e6) / 10e6)
    assert sim.finish(2.5, 1_000) == pytest.approx(3.0 + 8_000 / 10e6)
    fresh = Simulator([(0.0, 10.0), (2.0, 0.0), (3.0, 10.0)], seed=2)
    held = fresh.segment(META, 2.2, offloaded=True)
    after = fresh.segment(META, 5.0, offloaded=True)
    assert held.kind == "task" and after.kind == "task"
    assert held.stages[0].transmit is not None and held.stages[0].transmit >= 0.8  # waited out the outage
    assert after.stages[0].transmit is not None and after.stages[0].transmit < 0.1  # traffic resumed
    dead = Simulator([(0.0, 10.0), (1.0, 0.0)], seed=2)
    assert dead.finish(1.5, 1_000) == math.inf
    late = dead.run(META, 4.0)
    assert any(i.kind == "task" for i in late) and late[-1].kind == "drop"


def test_random_training_traces_include_short_outages() -> None:
    rng = random.Random(3)
    traces = [random_trace(rng, 150.0) for _ in range(40)]
    assert any(rate == 0.0 for trace in traces for _, rate in trace)
    for trace in traces:
        for (start, rate), (after, _) in itertools.pairwise(trace):
            assert after > start and (rate > 0 or after - start <= 3)


@pytest.mark.parametrize(
    "resolutions",
    [
        ["240p", "360p", "480p", "540p", "720p"],
        ["360p", "720p", "1080p"],
        ["240p", "360p", "480p", "540p", "720p", "1080p"],
    ],
)
def test_casva_weights_fit_any_resolution_ladder(resolutions: list[str]) -> None:
    """The shipped weights load whatever the ladder's length (actions are positions on a fixed grid), and the
    cheapest and richest positions reach the ladder's ends."""
    agent = make_agent("casva", {"ladders": {"resolution": resolutions}})
    assert agent.info()["weights"] is not None
    ladders = Ladders(resolution=resolutions)
    grid = actions(ladders)
    assert len(grid) == GRID["resolution"] * GRID["fps"] * GRID["qp"]
    assert {r for r, _, _ in grid} == set(range(len(resolutions))) or len(resolutions) > GRID["resolution"]
    assert min(r for r, _, _ in grid) == 0 and max(r for r, _, _ in grid) == len(resolutions) - 1
    meta = agent.decide(request()).meta
    assert meta.resolution in resolutions


def test_casva_grid_is_one_to_one_on_the_default_ladders() -> None:
    """On ladders of the grid's sizes (the defaults, and the training ladder) every action is its own rung,
    so the weights mean there what they meant in training."""
    grid = actions(Ladders(resolution=["240p", "360p", "480p", "540p", "720p"]))
    assert len(set(grid)) == len(grid)
    assert len(set(actions(Ladders()))) == len(grid)
