"""Run the benchmark: every policy, every repeat, one after another on a fresh install; then the report."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path
from typing import Any

from backend.benchpolicies import report, workload
from backend.benchpolicies.config import QUICK_POLICIES, BenchSettings
from backend.benchpolicies.policies import agent_choice, unavailable
from backend.benchpolicies.runner import run_policy
from backend.benchpolicies.summary import combine, samples, summarise
from backend.profiler import profile
from services.scheduler.profile_table import save_table

QUICK_DURATION_S = 12.0
QUICK_DRAIN_S = 5.0
QUICK_CLIP_FRAMES = 90
"""3 s of clip, looping: the quick run checks the machinery, a shorter clip is made faster."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policies",
        help="comma-separated policy ids (default: every adaptive policy this install can load, and fixed)",
    )
    parser.add_argument("--trace", default="step-drop", help="trace name in template/traces/ or a CSV file")
    parser.add_argument("--duration", type=float, help="seconds measured per run, from the first result (default 70)")
    parser.add_argument("--slo-ms", type=float, default=1000.0, help="delay a task should meet")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, help="runs per policy (default 2; --quick: 1)")
    parser.add_argument("--out", default=".dayu/bench/policies", help="output folder")
    parser.add_argument("--template", default="template", help="template folder of the policies")
    parser.add_argument("--quick", action="store_true", help=f"two policies ({', '.join(QUICK_POLICIES)}), short")
    parser.add_argument(
        "--edge-cpu",
        type=float,
        help="cores the edge node may use (cgroup CPU quota; default 0.5); 0: as many as the cloud",
    )


def settings_of(args: argparse.Namespace) -> BenchSettings:
    values: dict[str, Any] = {
        "trace": args.trace,
        "slo_ms": args.slo_ms,
        "seed": args.seed,
        "out": Path(args.out),
        "template": Path(args.template),
        "quick": args.quick,
    }
    if args.policies:
        values["policies"] = [p.strip() for p in args.policies.split(",") if p.strip()]
    elif args.quick:
        values["policies"] = list(QUICK_POLICIES)
    if args.edge_cpu is not None:
        values["edge_cpu_quota"] = None if args.edge_cpu == 0 else args.edge_cpu
    if args.duration is not None:
        values["duration_s"] = args.duration
    elif args.quick:
        values["duration_s"] = QUICK_DURATION_S
    if args.repeat is not None:
        values["repeat"] = args.repeat
    elif args.quick:
        values["repeat"] = 1
    if args.quick:
        values["drain_s"] = QUICK_DRAIN_S
    settings = BenchSettings(**values)
    if not args.policies and not args.quick:
        usable = []
        for policy in settings.policies:
            reason = unavailable(str(settings.template), policy)
            if reason is None:
                usable.append(policy)
            else:
                print(f"bench-policies: skipping {policy}: {reason}", file=sys.stderr)
        settings = settings.model_copy(update={"policies": usable})
    return settings


def load_trace(name: str) -> Any:
    """The trace as the link replays it (None when this build's links cannot follow traces)."""
    if not workload.traces_supported():
        return None
    module = importlib.import_module("common.trace")
    return module.load_trace(name, mode="hold")


def run(settings: BenchSettings) -> dict[str, Any]:
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    trace = load_trace(settings.trace)
    replay = (
        "replayed on the link from the first result"
        if trace is not None
        else f"NOT replayed: constant {settings.link_mbps:g} Mbit/s"
    )
    print(f"bench-policies: {', '.join(settings.policies)}; trace {settings.trace} ({replay})", file=sys.stderr)
    frames = QUICK_CLIP_FRAMES if settings.quick else workload.CLIP_FRAMES
    clip, truth = workload.prepare_clip(out / "workload", settings.seed, frames)
    startup = {
        "resolution": settings.resolution,
        "fps": settings.fps,
        "encoding": "h264",
        "qp": settings.qp,
        "buffer_size": settings.buffer_size,
    }
    table = None
    if any(p.endswith("profiling") for p in settings.policies):
        measured = profile(settings.template, clip, services=[workload.SERVICE])
        table = str(save_table(measured, out / "profile.json").resolve())
    link_mbps = trace.initial_rate() if trace is not None else settings.link_mbps
    slow_link = None
    if trace is not None:
        best = max(p.mbit_per_s for p in trace.points)
        slow_link = lambda t: trace.rate_at(t) < best  # noqa: E731
    policies: dict[str, Any] = {}
    series: dict[str, list[dict[str, Any]]] = {}
    node_cpu: dict[str, Any] = {}
    for policy in settings.policies:
        agent = agent_choice(
            str(settings.template),
            policy,
            slo_s=settings.slo_ms / 1000.0,
            seed=settings.seed,
            table=table,
            profile_window_s=settings.profile_window_s,
        )
        runs = []
        for repeat in range(settings.repeat):
            began = time.monotonic()
            records = run_policy(
                policy,
                repeat,
                agent=agent,
                startup=startup,
                clip=clip.resolve(),
                truth=truth.resolve(),
                seed=settings.seed,
                trace=settings.trace if trace is not None else None,
                link_mbps=link_mbps,
                duration_s=settings.duration_s,
                drain_s=settings.drain_s,
                run_dir=(out / "run").resolve(),
                timeout_s=settings.timeout_s,
                edge_cpu_quota=settings.edge_cpu_quota,
            )
            if not node_cpu:
                node_cpu = records.cpu
                if records.cpu.get("reason"):
                    print(f"bench-policies: {records.cpu['reason']}", file=sys.stderr)
            figures = summarise(records, settings.slo_ms, slow_link)
            runs.append(figures)
            if repeat == 0:
                series[policy] = samples(records)
            print(
                f"  {policy} #{repeat + 1} done in {time.monotonic() - began:.0f} s "
                f"(first result {figures['warmup_s']:.0f} s after install): {figures['tasks']} tasks, "
                f"p95 {figures['latency_ms_p95'] or 0:.0f} ms, SLO violations {figures['slo_violation_rate'] or 0:.2f}",
                file=sys.stderr,
            )
        policies[policy] = {"agent": agent, **combine(runs)}
    results = {
        "settings": {
            **settings.model_dump(mode="json", exclude={"policies", "out", "template"}),
            "policies": settings.policies,
            "trace_replay": replay,
            "startup": startup,
            "node_cpu": node_cpu,
        },
        "policies": policies,
    }
    written = report.write(out, results, series, trace.rate_at if trace is not None else None)
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-policies", description=__doc__)
    add_arguments(parser)
    run(settings_of(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
