"""What a benchmark run leaves behind: results.json, table.md and the PNG plots."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

COLUMNS = [
    ("policy", "policy"),
    ("latency_ms_p50", "p50 ms"),
    ("latency_ms_p95", "p95 ms"),
    ("slo_violation_rate", "SLO viol."),
    ("slo_violation_rate_per_video_s", "viol. per video s"),
    ("slo_violation_rate_low_link", "viol. on slow link"),
    ("accuracy_f1", "F1 (every frame)"),
    ("accuracy_f1_golden", "F1 vs golden"),
    ("accuracy_f1_tasks", "F1 processed frames"),
    ("link_mbytes", "link MB"),
    ("link_mbytes_per_video_s", "MB per video s"),
    ("probe_mbytes", "probe MB"),
    ("drop_rate", "drops"),
    ("decision_ms_p99", "decide p99 ms"),
    ("tasks", "tasks"),
]
Trace = Callable[[float], float] | None
TIMELINE_SHOWN = 40
"""Configuration spans listed in text; the JSON has them all."""


def _fmt(value: Any, spread: Any = None) -> str:
    if value is None:
        return "-"
    text = (f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}") if isinstance(value, float) else str(value)
    if spread is not None:
        text += f" ±{spread / 2:.2g}"
    return text


def figures_table(rows: dict[str, dict[str, Any]], first: str = "policy") -> list[str]:
    """The benchmark's table: one row per policy (or source), the figures of :func:`summary.summarise_records`."""
    titles = [first if key == "policy" else title for key, title in COLUMNS]
    lines = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(COLUMNS)]
    for name, figures in rows.items():
        spread = figures.get("spread") or {}
        cells = [name] + [_fmt(figures.get(key), spread.get(key)) for key, _ in COLUMNS[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def details(name: str, figures: dict[str, Any]) -> list[str]:
    """What one row's figures hold beyond the table: accuracy's reference, drops by reason, the
    configurations and placements over time."""
    reference = {"ground_truth": "ground truth", "golden": "the golden configuration"}.get(
        str(figures.get("accuracy_reference")), "nothing (no accuracy scores)"
    )
    drops = figures.get("drops_by_reason") or {}
    lines = [
        f"{name}: {figures.get('tasks', 0)} tasks over {_fmt(figures.get('video_s'))} s of video, "
        f"p99 {_fmt(figures.get('latency_ms_p99'))} ms; accuracy against {reference}",
        "  drops by reason: " + (", ".join(f"{k} {v}" for k, v in drops.items()) or "none"),
        "  configurations and placements over time (s since the first task):",
    ]
    spans = figures.get("timeline") or []
    for span in spans[:TIMELINE_SHOWN]:
        knobs = f"{span['resolution']} {span['fps']:g} fps"
        if span.get("qp") is not None:
            knobs += f" qp {span['qp']}"
        when = f"{span['from_s']:8.1f} - {span['to_s']:8.1f}"
        lines.append(f"    {when}  {span['tasks']:5d} tasks  {knobs}  {span['placement']}")
    if len(spans) > TIMELINE_SHOWN:
        lines.append(f"    ... {len(spans) - TIMELINE_SHOWN} more (all of them in --json)")
    return lines


def _models_line(settings: dict[str, Any]) -> list[str]:
    """Which model the policies' stage ran and which the golden reference used (they may differ: only the
    knobs are the policies' to choose)."""
    golden = settings.get("golden")
    if not isinstance(golden, dict):
        return []
    stage = settings.get("model") or "the template's default"
    objects = golden.get("objects")
    found = f" ({', '.join(str(n) for n in objects)} objects in the reference)" if objects else ""
    if objects and not any(objects):
        found = " (0 objects in the reference: F1 against it is 0 for any policy that detects anything)"
    return [
        f"Stage model `{stage}`; golden reference model `{golden.get('model') or 'default'}` on every frame at "
        f"the clip's own size{found}."
    ]


def table(results: dict[str, Any]) -> str:
    settings = results["settings"]
    reference = {"ground_truth": "ground truth (and golden beside it)", "golden": "the golden configuration"}
    clip = settings.get("clip")
    lines = [
        f"Trace `{settings['trace']}` ({settings['trace_replay']}), {settings['duration_s']:g} s measured per run, "
        f"SLO {settings['slo_ms']:g} ms, seed {settings['seed']}, {settings['repeat']} repeat(s).",
        *(
            [
                f"Clip `{clip}` through `{settings.get('service')}`"
                f"{' (held out)' if settings.get('held_out') else ' (used while tuning the agents)'}; "
                f"F1 over every source frame of the window against "
                f"{reference.get(str(settings.get('accuracy_reference')), '-')}."
            ]
            if clip
            else []
        ),
        *_models_line(settings),
        _cpu_line(settings),
        "",
        *figures_table(results["policies"]),
        "",
        "Link MB: the window's task payloads that crossed the link and the edges' bandwidth probes (probe MB).",
    ]
    for policy, figures in results["policies"].items():
        for number, run in enumerate(figures.get("repeats") or [], 1):
            if run.get("probe_unknown"):
                lines.append(f"{policy} #{number}: probe bytes unknown, so is its link MB ({run['probe_unknown']}).")
    if settings["repeat"] > 1:
        lines += ["", "± is half the spread (max - min) between repeats."]
    return "\n".join(lines) + "\n"


def _cpu_line(settings: dict[str, Any]) -> str:
    """The nodes' CPU: the edge's quota and whether the kernel enforced it."""
    quota = settings.get("edge_cpu_quota")
    if quota is None:
        return "Edge and cloud share the machine's cores (no CPU quota)."
    cpu = settings.get("node_cpu") or {}
    if cpu.get("enforced"):
        return f"Edge limited to {quota:g} core(s) by a cgroup v{cpu.get('cgroup_version')} CPU quota; cloud unlimited."
    return f"Edge quota {quota:g} core(s) NOT enforced: {cpu.get('reason') or 'no run recorded it'}."


def write_suite(out: Path, results: dict[str, Any]) -> list[Path]:
    """The suite's results.json (every case) and table.md: held-out cases first, then the tuning set."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    record = results["provenance"]
    lines = [
        f"Commit {record.get('commit') or 'unknown'}{' (with local changes)' if record.get('dirty') else ''}; "
        f"command `{record.get('command')}`.",
        f"Load average before {_load(record.get('load_before'))}, after {_load(record.get('load_after'))}.",
    ]
    for title, keys in (("Held out", results["held_out"]), ("Used while tuning the agents", results["tuned_on"])):
        lines += ["", f"## {title}"]
        if not keys:
            lines += ["", "(none in this run)"]
        for key in keys:
            lines += ["", f"### {key}", "", table(results["cases"][key]).rstrip("\n")]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    written = [out / "results.json", out / "table.md"]
    # The dashboard lists the PNGs of the top folder: each case's plots beside the suite's table, by case.
    for key in [*results["held_out"], *results["tuned_on"]]:
        for plot in sorted((out / key).glob("*.png")):
            target = out / f"{key}--{plot.name}"
            shutil.copyfile(plot, target)
            written.append(target)
    return written


def _load(load: dict[str, Any] | None) -> str:
    if not load:
        return "-"
    return f"{load['load_1m']:.2f} / {load['load_5m']:.2f} / {load['load_15m']:.2f} (1/5/15 min, {load['cpus']} CPUs)"


def write(out: Path, results: dict[str, Any], series: dict[str, list[dict[str, Any]]], trace: Trace) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "table.md").write_text(table(results))
    return [out / "results.json", out / "table.md", *plots(out, results, series, trace)]


def plots(out: Path, results: dict[str, Any], series: dict[str, list[dict[str, Any]]], trace: Trace) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    slo = results["settings"]["slo_ms"]
    written = []

    fig, ax = plt.subplots(figsize=(6, 4))
    for policy, points in series.items():
        values = np.sort([p["latency_ms"] for p in points])
        if len(values):
            ax.plot(values, np.arange(1, len(values) + 1) / len(values), label=policy)
    ax.axvline(slo, color="grey", linestyle="--", linewidth=1, label="SLO")
    ax.set_xlabel("task latency (ms)")
    ax.set_ylabel("fraction of tasks")
    ax.set_xscale("log")
    ax.legend(fontsize=8)
    ax.set_title("Latency CDF")
    fig.tight_layout()
    written.append(_save(fig, out / "latency_cdf.png"))

    fig, (lat, acc, link) = plt.subplots(3, 1, figsize=(7, 7), sharex=True, height_ratios=[3, 2, 1])
    end = max([results["settings"]["duration_s"]] + [p["t_s"] for pts in series.values() for p in pts])
    for policy, points in series.items():
        t = [p["t_s"] for p in points]
        lat.plot(t, [p["latency_ms"] for p in points], ".-", markersize=2, linewidth=0.7, label=policy)
        scored = [p for p in points if p["accuracy"] is not None]
        acc.plot([p["t_s"] for p in scored], _smooth([p["accuracy"] for p in scored]), linewidth=1, label=policy)
    lat.axhline(slo, color="grey", linestyle="--", linewidth=1)
    lat.set_yscale("log")
    lat.set_ylabel("latency (ms)")
    lat.legend(fontsize=7, ncol=2)
    acc.set_ylabel("F1 of the task (mean of 5)")
    if trace is not None:
        ts = np.linspace(0, end, 400)
        link.step(ts, [trace(t) for t in ts], where="post", color="black")
    link.set_ylabel("link Mbit/s")
    link.set_xlabel("seconds since the trace started (first result)")
    fig.suptitle(f"Over time, trace {results['settings']['trace']}")
    fig.tight_layout()
    written.append(_save(fig, out / "over_time.png"))

    fig, ax = plt.subplots(figsize=(5, 4))
    for policy, figures in results["policies"].items():
        if figures.get("accuracy_f1") is None:
            continue
        ax.scatter(figures["link_mbytes"], figures["accuracy_f1"], label=policy)
        ax.annotate(policy, (figures["link_mbytes"], figures["accuracy_f1"]), fontsize=7)
    ax.set_xlabel("bytes over the edge-cloud link (MB)")
    ax.set_ylabel("mean F1")
    ax.set_title("Accuracy against bytes sent")
    fig.tight_layout()
    written.append(_save(fig, out / "accuracy_vs_bytes.png"))
    return written


def _smooth(values: list[float], n: int = 5) -> list[float]:
    out = []
    for i in range(len(values)):
        window = values[max(0, i - n + 1) : i + 1]
        out.append(sum(window) / len(window))
    return out


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
