"""Run the benchmark: every trace with every clip, every policy, every repeat, one after another on a fresh
install; then the report, held-out cases first."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from backend.benchpolicies import interrupt, provenance, report, seeding, suite, workload
from backend.benchpolicies.config import QUICK_POLICIES, SYNTHETIC, BenchSettings, ClipChoice, default_model
from backend.benchpolicies.frames import score_frames
from backend.benchpolicies.policies import agent_choice, unavailable
from backend.benchpolicies.runner import RunRecords, run_policy
from backend.benchpolicies.summary import combine, samples, summarise, window_drops
from backend.profiler import profile
from common.errors import DayuError
from common.profile_table import save_table
from common.task import SENTINELS
from common.trace import Trace, load_trace

QUICK_DURATION_S = 12.0
QUICK_DRAIN_S = 5.0
QUICK_CLIP_FRAMES = 90
"""3 s of clip, looping: the quick run checks the machinery, a shorter clip is made faster."""
PER_TASK_FIELDS = ("task_id", "t_s", "stages", "resolution", "fps", "qp", "latency_ms", "link_bytes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policies",
        help="comma-separated policy ids (default: every adaptive policy this install can load, and fixed)",
    )
    parser.add_argument(
        "--trace",
        help="comma-separated trace names in template/traces/ or CSV files "
        "(default: step-drop, verizon-lte-short-up, tmobile-umts-driving-up; --quick: step-drop)",
    )
    parser.add_argument(
        "--clip",
        help=f"'{SYNTHETIC}', a real clip's name or any video file (default: the synthetic clip and the real "
        "'bikes' clip; --quick: synthetic); a clip without ground truth is scored against the golden configuration",
    )
    parser.add_argument("--service", help="service id of the one-stage DAG (default: the template's default DAG)")
    parser.add_argument(
        "--model",
        help="model the stage runs (default: the default suite's for that clip and service, e.g. ssdlite for bikes "
        "through pedestrian-detection; else the service's processor template's)",
    )
    parser.add_argument("--duration", type=float, help="seconds measured per run, from the first result (default 70)")
    parser.add_argument("--slo-ms", type=float, default=1000.0, help="delay a task should meet")
    parser.add_argument("--seed", type=int, default=7, help="base seed; repeat r runs with seed + r")
    parser.add_argument("--repeat", type=int, help="runs per policy and case (default 2; --quick: 1)")
    parser.add_argument("--out", default=".dayu/bench/policies", help="output folder")
    parser.add_argument("--template", default="template", help="template folder of the policies")
    parser.add_argument("--golden-cache", help="folder of cached golden references (default .dayu/bench/golden)")
    parser.add_argument("--quick", action="store_true", help=f"two policies ({', '.join(QUICK_POLICIES)}), short")
    parser.add_argument(
        "--edge-cpu",
        type=float,
        help="cores the edge node may use (cgroup CPU quota; default 0.5); 0: as many as the cloud",
    )


def settings_of(args: argparse.Namespace) -> BenchSettings:
    values: dict[str, Any] = {
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
    if args.trace:
        values["traces"] = [t.strip() for t in args.trace.split(",") if t.strip()]
    elif args.quick:
        values["traces"] = ["step-drop"]
    if args.clip or args.service or args.model or args.quick:
        clip = args.clip or SYNTHETIC
        model = args.model or default_model(clip, args.service)
        values["clips"] = [ClipChoice(clip=clip, service=args.service, model=model)]
    if args.golden_cache:
        values["golden_cache"] = Path(args.golden_cache)
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


def traces_replayed() -> bool:
    return workload.traces_supported()


def per_task(records: RunRecords) -> list[dict[str, Any]]:
    """Per finished task of the window: its id, time, the node of each stage, its knobs, latency and bytes;
    then per dropped one: its id, the stage and node that gave it up, the reason, and its planned nodes."""
    finished = [{k: point[k] for k in PER_TASK_FIELDS} for point in samples(records)]
    dropped = []
    for record in window_drops(records):
        drop = record["drop"]
        task = drop.get("task") or {}
        dropped.append(
            {
                "task_id": drop["task_id"],
                "dropped": str(record.get("reason") or drop.get("reason") or "unknown"),
                "at_stage": drop.get("stage"),
                "at_node": drop.get("node"),
                "stages": {n: s.get("node") for n, s in (task.get("dag") or {}).items() if n not in SENTINELS},
            }
        )
    return finished + dropped


def accuracy(
    records: RunRecords, clip: suite.Clip, truth: list[dict[str, Any]] | None, reference: list[dict[str, Any]]
) -> dict[str, Any]:
    """Every source frame of the window scored against ground truth (where the clip has it) and golden."""
    scored: dict[str, Any] = {}
    references = {"ground_truth": truth, "golden": reference}
    for name, entries in references.items():
        if entries is not None:
            scored[name] = score_frames(
                records.records,
                entries,
                first_task=records.first_task,
                end_task=records.end_task,
                source_fps=clip.info.fps,
            )
    return scored


def _f1(scored: dict[str, Any], key: str) -> float | None:
    return (scored.get(key) or {}).get("f1")


def run_case(
    settings: BenchSettings, case: suite.Case, played: list[suite.Played], held_out: bool
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]], Trace | None]:
    """Every policy and repeat of one (trace, clip, service)."""
    clip = case.clip
    out = settings.out / case.key
    replayed = traces_replayed()
    base = load_trace(case.trace, mode="hold") if replayed else None
    replay = (
        "replayed on the link from the first result"
        if replayed
        else f"NOT replayed: constant {settings.link_mbps:g} Mbit/s"
    )
    truth_entries = None
    if clip.truth is not None:
        truth_entries = json.loads(clip.truth.read_text())
    reference_name = "ground_truth" if truth_entries is not None else "golden"
    print(
        f"bench-policies: case {case.key} ({'held out' if held_out else 'tuning set'}): trace {case.trace} "
        f"({replay}), clip {clip.label} through {clip.service}, accuracy against {reference_name}",
        file=sys.stderr,
    )
    startup = {
        "resolution": settings.resolution,
        "fps": settings.fps,
        "encoding": "h264",
        "qp": settings.qp,
        "buffer_size": settings.buffer_size,
    }
    table = None
    if any(p.endswith("profiling") for p in settings.policies):
        measured = profile(settings.template, clip.path, services=[clip.service])
        table = str(save_table(measured, out / "profile.json").resolve())
    policies: dict[str, Any] = {}
    series: dict[str, list[dict[str, Any]]] = {}
    node_cpu: dict[str, Any] = {}
    shown_trace: Trace | None = None
    for policy in settings.policies:
        runs = []
        agent: dict[str, Any] = {}
        for repeat in range(settings.repeat):
            seed, offset = played[repeat].seed, played[repeat].offset
            phase = seeding.trace_phase(seed, base.period_s) if base is not None else 0.0
            trace_ref = seeding.phased_trace(case.trace, phase, out / "traces") if base is not None else None
            trace = load_trace(trace_ref, mode="hold") if trace_ref is not None else None
            truth_file = seeding.rotated_truth(clip.truth, offset, out / "truth") if clip.truth is not None else None
            agent = agent_choice(
                str(settings.template),
                policy,
                slo_s=settings.slo_ms / 1000.0,
                seed=seed,
                table=table,
                profile_window_s=settings.profile_window_s,
            )
            slow_link = None
            if trace is not None:
                best = max(p.mbit_per_s for p in trace.points)
                slow_link = lambda t, trace=trace, best=best: trace.rate_at(t) < best  # noqa: E731
            load_before = provenance.load()
            began = time.monotonic()
            records = run_policy(
                policy,
                repeat,
                agent=agent,
                startup=startup,
                clip=played[repeat].path.resolve(),
                truth=truth_file.resolve() if truth_file is not None else None,
                seed=seed,
                trace=trace_ref,
                link_mbps=trace.initial_rate() if trace is not None else settings.link_mbps,
                duration_s=settings.duration_s,
                drain_s=settings.drain_s,
                run_dir=(settings.out / "run").resolve(),
                timeout_s=settings.timeout_s,
                edge_cpu_quota=settings.edge_cpu_quota,
                service=clip.service,
                stage=clip.stage,
                processor=clip.processor,
            )
            load_after = provenance.load()
            if not node_cpu:
                node_cpu = records.cpu
                if records.cpu.get("reason"):
                    print(f"bench-policies: {records.cpu['reason']}", file=sys.stderr)
            figures = summarise(records, settings.slo_ms, slow_link)
            scored = accuracy(
                records,
                clip,
                seeding.rotated(truth_entries, offset) if truth_entries is not None else None,
                played[repeat].reference.entries,
            )
            figures.update(
                accuracy_f1_tasks=figures["accuracy_f1"] if truth_entries is not None else None,
                accuracy_f1_ground_truth=_f1(scored, "ground_truth"),
                accuracy_f1_golden=_f1(scored, "golden"),
                accuracy_f1=_f1(scored, reference_name),
                # Every source frame weighs 1/fps: accuracy over frames already is per second of video.
                accuracy_f1_per_video_s=_f1(scored, reference_name),
                accuracy_reference=reference_name,
                accuracy_frames=scored,
                seed=seed,
                clip_offset_frames=offset,
                trace_phase_s=phase,
                load_before=load_before,
                load_after=load_after,
                per_task=per_task(records),
            )
            runs.append(figures)
            if repeat == 0:
                series[policy] = samples(records)
                shown_trace = trace
            print(
                f"  {policy} #{repeat + 1} (seed {seed}, clip from frame {offset}, trace from {phase:g} s) done in "
                f"{time.monotonic() - began:.0f} s (first result {figures['warmup_s']:.0f} s after install): "
                f"{figures['tasks']} tasks, p95 {figures['latency_ms_p95'] or 0:.0f} ms, "
                f"SLO violations {figures['slo_violation_rate'] or 0:.2f}, F1 {figures['accuracy_f1'] or 0:.3f}",
                file=sys.stderr,
            )
        policies[policy] = {"agent": agent, "accuracy_reference": reference_name, **combine(runs)}
    results = {
        "settings": {
            **settings.model_dump(mode="json", exclude={"policies", "out", "template", "traces", "clips", "tuned_on"}),
            "trace": case.trace,
            "clip": clip.label,
            "clip_file": clip.path.name,
            "clip_sha256": clip.info.sha256,
            "clip_frames": clip.info.frames,
            "clip_fps": clip.info.fps,
            "service": clip.service,
            "stage": clip.stage,
            "model": ((clip.processor or {}).get("application") or {}).get("params", {}).get("model"),
            "held_out": held_out,
            "accuracy_reference": reference_name,
            "golden": {
                **played[0].reference.config.model_dump(mode="json"),
                "cache": [p.reference.path.name for p in played],
                "objects": [p.reference.objects for p in played],
            },
            "policies": settings.policies,
            "trace_replay": replay,
            "startup": startup,
            "node_cpu": node_cpu,
        },
        "policies": policies,
    }
    return results, series, shown_trace


def run(settings: BenchSettings) -> dict[str, Any]:
    record = provenance.record()
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    suite.check_traces(settings)
    frames = QUICK_CLIP_FRAMES if settings.quick else workload.CLIP_FRAMES
    clips = [suite.resolve_clip(settings, choice, frames) for choice in settings.clips]
    cases = suite.cases(settings, clips)
    estimate = suite.estimate_s(settings, clips, suite.golden_frames(settings, clips))
    print(
        f"bench-policies: {len(cases)} case(s) x {len(settings.policies)} policies ({', '.join(settings.policies)}) "
        f"x {settings.repeat} repeat(s) = {suite.runs(settings, clips)} runs; estimated {estimate / 60:.0f} min "
        f"on an idle machine (~{settings.duration_s + settings.drain_s + suite.RUN_SETUP_S:.0f} s a run)",
        file=sys.stderr,
    )
    # The golden references, up front: once per clip file (a start offset makes a new one) and service.
    played: dict[tuple[str, str], list[suite.Played]] = {}
    for clip in clips:
        played[(clip.label, clip.service)] = suite.played(settings, clip)
        for repeat in played[(clip.label, clip.service)]:
            state = "computed" if repeat.reference.computed else "read from the cache"
            ref = repeat.reference
            print(
                f"bench-policies: golden reference of {clip.label} from frame {repeat.offset} for {clip.service} "
                f"{state}: {ref.objects} objects on {ref.frames_with_objects} of {len(ref.entries)} frames, "
                f"{ref.path}",
                file=sys.stderr,
            )
            if ref.objects == 0:
                print(
                    f"bench-policies: WARNING: the golden model ({ref.config.model or 'default'}) found nothing on "
                    f"{clip.label}: against it a policy scores F1 0 as soon as it detects anything, which says "
                    "nothing of its accuracy",
                    file=sys.stderr,
                )
    results: dict[str, Any] = {
        "provenance": {**record, "load_before": provenance.load(), "estimated_s": round(estimate)},
        "settings": settings.model_dump(mode="json", exclude={"out", "template"}),
        "held_out": [],
        "tuned_on": [],
        "cases": {},
    }
    for case in cases:
        held = suite.held_out(settings, case)
        case_results, series, trace = run_case(settings, case, played[(case.clip.label, case.clip.service)], held)
        case_results["provenance"] = record
        results["cases"][case.key] = case_results
        results["held_out" if held else "tuned_on"].append(case.key)
        for path in report.write(out / case.key, case_results, series, trace.rate_at if trace is not None else None):
            print(f"wrote {path}", file=sys.stderr)
    results["provenance"]["load_after"] = provenance.load()
    results["provenance"]["finished_at"] = time.time()
    for path in report.write_suite(out, results):
        print(f"wrote {path}", file=sys.stderr)
    return results


def run_guarded(settings: BenchSettings) -> int:
    """:func:`run`, ending everything it started on SIGINT or SIGTERM (then ``128 + signal``; see
    :mod:`backend.benchpolicies.interrupt`); 0 when it ran to the end."""
    return interrupt.guarded(lambda: run(settings), (settings.out / "run").resolve())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-policies", description=__doc__)
    add_arguments(parser)
    try:
        return run_guarded(settings_of(parser.parse_args(argv)))
    except DayuError as exc:
        print(f"bench-policies: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
