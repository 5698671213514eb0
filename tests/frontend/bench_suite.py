"""A policy benchmark suite's files, written by the benchmark's own writer for the dashboard's tests.

The runs' figures are drawn from a seeded generator (no platform runs here); everything around them is
what ``dayuctl bench-policies`` does with its runs: each policy's repeats combined by
``summary.combine``, held out as ``BenchSettings.tuned_on`` says, and ``results.json``, ``table.md`` and
the per-case plots written by ``report.write_suite``.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from backend.benchpolicies import report
from backend.benchpolicies.config import BenchSettings
from backend.benchpolicies.summary import combine

TRACES = ("step-drop", "verizon-lte-short-up")
CLIPS = (("synthetic", "face-detection", "ground_truth"), ("car-detection", "pedestrian-detection", "golden"))
POLICIES = ("fixed", "fc", "chameleon")
SEED = 7
REPEAT = 2
PROBE_UNKNOWN = ("verizon-lte-short-up--car-detection--pedestrian-detection", "fc", 1)
"""(case, policy, repeat) whose probe bytes a monitor could not give: its link bytes are unknown too."""


def _run(draw: random.Random, reference: str, seed: int, repeat: int) -> dict[str, Any]:
    f1 = draw.uniform(0.55, 0.97)
    golden = f1 if reference == "golden" else draw.uniform(0.5, 0.95)
    p50 = draw.uniform(120.0, 2500.0)
    task_mb, probe_mb = draw.uniform(4.0, 40.0), draw.uniform(0.2, 0.9)
    tasks = draw.randint(90, 200)
    drops = draw.randint(0, 30)
    return {
        "seed": seed,
        "clip_offset_frames": draw.randint(0, 299),
        "trace_phase_s": float(draw.randint(0, 79)),
        "accuracy_reference": reference,
        "accuracy_f1": f1,
        "accuracy_f1_ground_truth": f1 if reference == "ground_truth" else None,
        "accuracy_f1_golden": golden,
        "accuracy_f1_tasks": draw.uniform(0.5, 0.97) if reference == "ground_truth" else None,
        "latency_ms_p50": p50,
        "latency_ms_p95": p50 * draw.uniform(1.2, 4.0),
        "latency_ms_p99": p50 * draw.uniform(4.0, 6.0),
        "slo_violation_rate": draw.uniform(0.0, 0.9),
        "task_mbytes": task_mb,
        "probe_mbytes": probe_mb,
        "probe_unknown": None,
        "link_mbytes": task_mb + probe_mb,
        "drop_rate": drops / (tasks + drops),
        "decision_ms_p99": draw.uniform(0.1, 30.0),
        "tasks": tasks,
        "drops": drops,
        "drops_by_reason": {"queue_full": drops} if drops else {},
        "per_task": [],
        "repeat": repeat,
    }


def write_suite(folder: Path, png: bytes) -> dict[str, Any]:
    """Two traces x two clips (one with ground truth, one scored against golden), three policies, two seeds;
    returns the suite as written to ``folder/results.json``."""
    draw = random.Random(20261207)
    settings = BenchSettings(
        policies=list(POLICIES), traces=list(TRACES), repeat=REPEAT, seed=SEED, out=folder, edge_cpu_quota=0.5
    )
    provenance = {
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "dirty": False,
        "command": "dayuctl bench-policies",
    }
    results: dict[str, Any] = {
        "provenance": {**provenance, "load_before": None, "estimated_s": 0},
        "settings": settings.model_dump(mode="json", exclude={"out", "template"}),
        "held_out": [],
        "tuned_on": [],
        "cases": {},
    }
    cases = [(trace, clip) for trace in TRACES for clip in CLIPS]
    held = {c: not (c[0] in settings.tuned_on.traces and c[1][0] in settings.tuned_on.clips) for c in cases}
    for trace, (clip, service, reference) in sorted(cases, key=lambda c: not held[c]):
        key = f"{trace}--{clip}--{service}"
        policies = {}
        for policy in POLICIES:
            runs = [_run(draw, reference, SEED + r, r) for r in range(REPEAT)]
            if (key, policy) == PROBE_UNKNOWN[:2]:
                run = runs[PROBE_UNKNOWN[2]]
                run.update(probe_mbytes=None, link_mbytes=None, probe_unknown="edge1's monitor did not answer")
            policies[policy] = {"agent": {"alias": policy}, "accuracy_reference": reference, **combine(runs)}
        results["cases"][key] = {
            "settings": {
                **results["settings"],
                "trace": trace,
                "clip": clip,
                "service": service,
                "held_out": held[(trace, (clip, service, reference))],
                "accuracy_reference": reference,
                "trace_replay": "replayed on the link from the first result",
                "node_cpu": {"enforced": True, "cgroup_version": 2},
            },
            "policies": policies,
            "provenance": provenance,
        }
        results["held_out" if held[(trace, (clip, service, reference))] else "tuned_on"].append(key)
        (folder / key).mkdir(parents=True, exist_ok=True)
        (folder / key / "latency_cdf.png").write_bytes(png)
    report.write_suite(folder, results)
    return results
