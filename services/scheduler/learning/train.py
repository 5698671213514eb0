"""Train the learning agents on the simulator and write their weights.

    python -m services.scheduler.learning.train --agent casva --mode latency-first --seed 7 --episodes 40

The agent class that the scheduler runs is the one trained (``learn: true``): each episode replays a new
random bandwidth trace; each decision is followed by ``interval_s`` of simulated segments whose feedback
enters the agent's history. The weights land in services/scheduler/learning/weights/ (shipped).
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
from services.scheduler.learning.simulator import Simulator, random_trace

SIM_LADDERS = {"resolution": ["240p", "360p", "480p", "540p", "720p"]}


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


def episode(agent: Agent, sim: Simulator, decisions: int, interval_s: float) -> dict[str, float]:
    delays, accuracies, drops, total = [], [], 0, 0
    req = request()
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
                accuracies.append(item.accuracy or 0.0)
    return {
        "delay_mean": sum(delays) / max(1, len(delays)),
        "accuracy_mean": sum(accuracies) / max(1, len(accuracies)),
        "drop_rate": drops / max(1, total),
    }


def params_for(agent: str, mode: str, slo_s: float, seed: int, learn: bool) -> dict[str, Any]:
    if agent == "casva":
        return {"mode": mode, "slo_s": slo_s, "seed": seed, "learn": learn, "ladders": SIM_LADDERS, "pretrained": False}
    return {"slo_s": slo_s, "seed": seed, "learn": learn, "pretrained": False, "micro": {"ladders": SIM_LADDERS}}


def train(agent: str, mode: str, *, seed: int, episodes: int, decisions: int, slo_s: float, out: Path) -> Path:
    rng = random.Random(seed)
    startup = Meta(resolution="540p", fps=10, encoding="h264", qp=26, buffer_size=4)
    params = params_for(agent, mode, slo_s, seed, learn=True)
    learner = make(agent, params, startup)
    began = time.monotonic()
    for number in range(episodes):
        sim = Simulator(random_trace(rng, decisions * 2.0 + 30), seed=rng.randrange(2**31))
        figures = episode(learner, sim, decisions, 2.0)
        print(
            f"episode {number + 1}/{episodes}: delay {figures['delay_mean']:.2f} s, "
            f"accuracy {figures['accuracy_mean']:.2f}, drops {figures['drop_rate']:.2f}, "
            f"{time.monotonic() - began:.0f} s",
            file=sys.stderr,
        )
    learner.sac.save(out)  # type: ignore[attr-defined]
    print(f"wrote {out} after {time.monotonic() - began:.0f} s", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.scheduler.learning.train", description=__doc__)
    parser.add_argument("--agent", choices=["casva", "hei"], required=True)
    parser.add_argument("--mode", choices=["latency-first", "delivery-first"], default="latency-first")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--decisions", type=int, default=60, help="decisions per episode (2 s of video each)")
    parser.add_argument("--slo-s", type=float, default=1.0)
    parser.add_argument("--out", help="weights file (default: the shipped one)")
    args = parser.parse_args(argv)
    mode = args.mode if args.agent == "casva" else "latency-first"
    out = Path(args.out) if args.out else shipped_weights(args.agent, mode)
    train(args.agent, mode, seed=args.seed, episodes=args.episodes, decisions=args.decisions, slo_s=args.slo_s, out=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
