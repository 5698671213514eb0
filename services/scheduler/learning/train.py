"""Train the learning agents on the simulator and write their weights.

    python -m services.scheduler.learning.train --agent hei --seed 7 --episodes 150

docs/policies.md gives the command of each shipped file.

The agent class that the scheduler runs is the one trained (``learn: true``): each episode replays a new
random bandwidth trace with new content (starting object velocity) from fresh knobs and a fresh history;
each decision is followed by ``interval_s`` of simulated segments whose feedback enters the agent's
history. A share ``epsilon`` of the exploring actions is drawn uniformly so the replay keeps overloaded
and idle states long after the policy has sharpened. The weights land in
services/scheduler/learning/weights/ (shipped). At the end the greedy policy is run on constant links from
slow to fast and the configuration it settles on is printed: a policy that learnt anything must pick
cheaper segments on the slow links.

Training is reproducible: every random draw comes from ``--seed`` (traces, content, exploration, replay
sampling, network initialisation), torch runs one thread with deterministic algorithms, and the
simulator's clock is its own, so the same command writes bit-identical weights.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

from common.plan import Plan, PlanRequest
from common.registry import REGISTRY
from common.task import Meta, Stage
from services.scheduler.agent import FAMILY, Agent, AgentContext
from services.scheduler.agents.casva import shipped_weights
from services.scheduler.history import SourceHistory
from services.scheduler.knobs import Ladders
from services.scheduler.learning.features import stream_accuracy
from services.scheduler.learning.simulator import Simulator, random_trace

SIM_LADDERS = {"resolution": ["240p", "360p", "480p", "540p", "720p"]}
EVAL_LINKS_MBPS = (0.3, 1.0, 3.0, 10.0, 50.0)


def request() -> PlanRequest:
    dag = {
        "_start": Stage(name="_start", service="_start", next=["s"]),
        "s": Stage(name="s", service="detect", prev=["_start"], next=["_end"]),
        "_end": Stage(name="_end", service="_end", prev=["s"]),
    }
    return PlanRequest(source_id="sim", source_node="edge1", dag=dag, edge_nodes=["edge1"])


def make(agent: str, params: dict[str, Any], startup: Meta) -> Agent:
    context = AgentContext(
        source_id="sim", cloud="cloud", startup=Plan(meta=startup, offload={"s": "cloud"}), history=SourceHistory(256)
    )
    created: Agent = REGISTRY.create(FAMILY, agent, params, context=context)
    return created


def episode(
    agent: Agent, sim: Simulator, decisions: int, interval_s: float, extra_updates: int = 0
) -> dict[str, float]:
    delays, accuracies, drops, total, sent = [], [], 0, 0, 0
    req = request()
    offloaded = True
    for _ in range(decisions):
        plan = agent.decide(req)
        offloaded = plan.offload.get("s", "cloud") != "edge1"
        for item in sim.run(plan.meta, interval_s, offloaded):
            agent.context.history.add(item)
            agent.on_feedback(item)
            total += 1
            if item.kind == "drop":
                drops += 1
            else:
                delays.append(item.delay)
                accuracies.append(stream_accuracy(item))
                if any(stage.node == "cloud" for stage in item.stages):
                    sent += item.segment_bytes or 0
        for _ in range(extra_updates):
            agent.sac.update()  # type: ignore[attr-defined]
    return {
        "delay_mean": sum(delays) / max(1, len(delays)),
        "accuracy_mean": sum(accuracies) / max(1, len(accuracies)),
        "drop_rate": drops / max(1, total),
        "mbit_per_s": sent * 8 / 1e6 / max(1e-9, sim.now),  # over the link
        "offloaded": float(offloaded),
    }


def fresh_episode(agent: Agent, rng: random.Random) -> None:
    """A new history, no pending transition, and for ``hei`` (whose knobs persist) random knobs and split
    and a macro interval of 1, 2 or 4 decisions: the macro agent must learn to act alone as well as between
    micro steps (with them in between it could leave every reaction to the micro loop)."""
    agent.context.history = SourceHistory(256)
    agent.last = None  # type: ignore[attr-defined]
    if agent.alias == "hei":
        agent.cfg = agent.cfg.model_copy(update={"macro_every": rng.choice((1, 2, 4))})  # type: ignore[attr-defined]
        ladders: Ladders = agent.ladders  # type: ignore[attr-defined]
        meta = agent.meta  # type: ignore[attr-defined]
        for knob in ("resolution", "fps", "buffer_size"):
            meta = ladders.set(meta, knob, rng.randrange(ladders.size(knob)))
        agent.meta = meta  # type: ignore[attr-defined]
        agent.split = rng.randrange(2)  # type: ignore[attr-defined]
        agent.decisions = 0  # type: ignore[attr-defined]
        agent.next_macro = agent.last_macro_decision = 0  # type: ignore[attr-defined]
        # Receipt numbers restart with the new history: no macro step or judged window in it yet.
        agent.macro_seq = None  # type: ignore[attr-defined]
        agent.served = []  # type: ignore[attr-defined]
        agent.micro.judged_seq = 0  # type: ignore[attr-defined]


def params_for(agent: str, mode: str, slo_s: float, seed: int, learn: bool) -> dict[str, Any]:
    if agent == "casva":
        return {"mode": mode, "slo_s": slo_s, "seed": seed, "learn": learn, "ladders": SIM_LADDERS, "pretrained": False}
    return {"slo_s": slo_s, "seed": seed, "learn": learn, "pretrained": False, "micro": {"ladders": SIM_LADDERS}}


STARTUP = Meta(resolution="540p", fps=10, encoding="h264", qp=26, buffer_size=4)


def train(
    agent: str,
    mode: str,
    *,
    seed: int,
    episodes: int,
    decisions: int,
    slo_s: float,
    out: Path,
    epsilon: float = 0.2,
    updates: int = 1,
    report: bool = True,
) -> Path:
    deterministic()
    rng = random.Random(seed)
    params = params_for(agent, mode, slo_s, seed, learn=True)
    learner = make(agent, params, STARTUP)
    learner.sac.epsilon = epsilon  # type: ignore[attr-defined]
    began = time.monotonic()
    for number in range(episodes):
        fresh_episode(learner, rng)
        sim = Simulator(
            random_trace(rng, decisions * 2.0 + 30),
            seed=rng.randrange(2**31),
            velocity=0.02 * 15 ** rng.random(),  # 0.02-0.3 frame diagonals per second
        )
        figures = episode(learner, sim, decisions, 2.0, extra_updates=updates - 1)
        if (number + 1) % 25 == 0:
            learner.sac.save(out)  # type: ignore[attr-defined]  # a checkpoint: a long run can be cut short
        if (number + 1) % 10 == 0 or number + 1 == episodes:
            print(
                f"episode {number + 1}/{episodes}: delay {figures['delay_mean']:.2f} s, "
                f"stream accuracy {figures['accuracy_mean']:.2f}, drops {figures['drop_rate']:.2f}, "
                f"{figures['mbit_per_s']:.2f} Mbit/s sent, {time.monotonic() - began:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    learner.sac.save(out)  # type: ignore[attr-defined]
    print(f"wrote {out} after {time.monotonic() - began:.0f} s of training", file=sys.stderr)
    if report:
        evaluate(agent, mode, slo_s, out)
    return out


def deterministic() -> None:
    """One thread and deterministic kernels: the same seed then gives the same weights, bit for bit."""
    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def evaluate(agent: str, mode: str, slo_s: float, weights: Path, decisions: int = 30) -> list[dict[str, Any]]:
    """The greedy policy from ``weights`` on constant links: what it sends and how late, per link."""
    rows = []
    for mbps in EVAL_LINKS_MBPS:
        params = {**params_for(agent, mode, slo_s, 0, learn=False), "pretrained": True, "weights": str(weights)}
        player = make(agent, params, STARTUP)
        figures = episode(player, Simulator([(0.0, mbps)], seed=1, velocity=0.1), decisions, 2.0)
        meta = player.meta  # type: ignore[attr-defined]
        rows.append({"link_mbps": mbps, **figures, "meta": meta})
        print(
            f"link {mbps:5.1f} Mbit/s: settles on {meta.resolution} {meta.fps:g} fps qp {meta.qp} "
            f"buffer {meta.buffer_size}{'' if figures['offloaded'] else ' on the edge'}, sends "
            f"{figures['mbit_per_s']:.2f} Mbit/s, delay {figures['delay_mean']:.2f} s, "
            f"stream accuracy {figures['accuracy_mean']:.2f}, drops {figures['drop_rate']:.2f}",
            file=sys.stderr,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.scheduler.learning.train", description=__doc__)
    parser.add_argument("--agent", choices=["casva", "hei"], required=True)
    parser.add_argument("--mode", choices=["latency-first", "delivery-first"], default="latency-first")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--episodes", type=int, default=400)
    parser.add_argument("--decisions", type=int, default=60, help="decisions per episode (2 s of video each)")
    parser.add_argument("--slo-s", type=float, default=1.0)
    parser.add_argument("--epsilon", type=float, default=0.2, help="share of uniformly drawn exploring actions")
    parser.add_argument("--updates", type=int, default=1, help="network updates per decision")
    parser.add_argument("--out", help="weights file (default: the shipped one)")
    parser.add_argument("--no-report", action="store_true", help="skip the greedy run on constant links after training")
    args = parser.parse_args(argv)
    mode = args.mode if args.agent == "casva" else "latency-first"
    out = Path(args.out) if args.out else shipped_weights(args.agent, mode)
    train(
        args.agent,
        mode,
        seed=args.seed,
        episodes=args.episodes,
        decisions=args.decisions,
        slo_s=args.slo_s,
        out=out,
        epsilon=args.epsilon,
        updates=args.updates,
        report=not args.no_report,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
