"""``python -m tests.bench`` (``make bench``): data-plane figures, their floors measured in the same run,
the end-to-end latency budget, scaling with streams and the applications, printed as a table with a
verdict per target and written to ``.dayu/bench/results.json``.

Environment: ``BENCH_REPEAT=N`` runs everything N times and prints the spread of each figure;
``BENCH_SECTIONS=hop,passthrough`` runs only those sections; ``BENCH_SCALE=1,2,4`` the stream counts of
the scaling run; ``BENCH_QUICK=1`` is ``--quick``.
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from tests.bench import dataplane, guard
from tests.bench.measure import flatten, spread
from tests.bench.targets import TARGET_SECTIONS, TARGETS

ALL_SECTIONS = (*dataplane.SECTIONS, "e2e", "scale", "apps")


def _section_of(pattern: str) -> str:
    for prefix, name in TARGET_SECTIONS.items():
        if pattern.startswith(prefix):
            return name
    return ""


def verdicts(results: dict[str, Any], sections: set[str] | None = None) -> list[str]:
    """One line per target and figure: measured, bound, met or MISSED; a figure that is absent is said so."""
    flat = flatten(results)
    lines = []
    for pattern, op, bound in TARGETS:
        keys = sorted(k for k in flat if fnmatch.fnmatchcase(k, pattern))
        if not keys:
            section = _section_of(pattern)
            if sections is not None and section and section not in sections:
                lines.append(f"{pattern} {op} {bound:g}: not run (section {section} not selected)")
            else:
                error = results.get("errors", {}).get(section)
                why = f" ({error})" if error else ""
                lines.append(f"{pattern} {op} {bound:g}: MISSED, not measured{why}")
            continue
        for key in keys:
            figure = flat[key]
            if figure != figure:  # NaN
                lines.append(f"{key} {op} {bound:g}: MISSED, not measured (NaN)")
                continue
            met = figure <= bound if op == "<=" else figure >= bound
            lines.append(f"{key} = {figure:g} ({op} {bound:g}): {'met' if met else 'MISSED'}")
    return lines


def table(results: dict[str, Any], sections: set[str] | None = None) -> str:
    rows = [(k, f"{v:g}") for k, v in flatten(results).items()]
    for figure, load in results.get("load", {}).items():
        rows.append((f"load[{figure}]", f"{load['before'][0]} -> {load['after'][0]}, busy {load['cpu_busy_share']}"))
    for name, error in results.get("errors", {}).items():
        rows.append((f"error[{name}]", error))
    width = max((len(k) for k, _ in rows), default=10)
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  -----"]
    lines += [f"{k:<{width}}  {v}" for k, v in rows]
    lines.append("")
    lines.append("targets:")
    lines += [f"  {line}" for line in verdicts(results, sections)]
    return "\n".join(lines)


def spread_table(figures: dict[str, dict[str, float | int]]) -> str:
    width = max((len(k) for k in figures), default=10)
    lines = [f"{'figure':<{width}}  {'min':>10} {'median':>10} {'max':>10} {'range%':>7}  runs"]
    for key, s in figures.items():
        lines.append(
            f"{key:<{width}}  {s['min']:>10g} {s['median']:>10g} {s['max']:>10g} {s['range_pct']:>7g}  "
            f"{s['runs']}/{s['of']}"
        )
    return "\n".join(lines)


def run_once(args: argparse.Namespace, sections: set[str]) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": {
            "cpus": psutil.cpu_count(),
            "python": platform.python_version(),
            "at": time.strftime("%F %T"),
            "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "sections": sorted(sections),
    }
    dataplane.run(results, args.run_dir, quick=args.quick, sections=sections)
    for name in ("e2e", "scale"):
        if name in sections:
            module = importlib.import_module("tests.bench.streams")
            with dataplane.section(results, name):
                getattr(module, f"run_{name}")(results, args.run_dir.parent / f"run-{name}", quick=args.quick)
    if "apps" in sections:
        with dataplane.section(results, "apps"):
            importlib.import_module("tests.bench.apps").run(results)
    results["machine"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def main(argv: list[str] | None = None) -> int:
    guard.install()
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1")
    parser.add_argument("--out", type=Path, default=Path(".dayu/bench/results.json"))
    parser.add_argument("--run-dir", type=Path, default=Path(".dayu/bench/run"))
    parser.add_argument("--skip-apps", action="store_true", help="leave out the applications section")
    parser.add_argument("--only", default=os.environ.get("BENCH_SECTIONS", ""), help=f"sections: {ALL_SECTIONS}")
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", "1")))
    args = parser.parse_args(argv)
    sections = {s.strip() for s in args.only.split(",") if s.strip()} or set(ALL_SECTIONS)
    unknown = sections - set(ALL_SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; known: {', '.join(ALL_SECTIONS)}")
    if args.skip_apps:
        sections.discard("apps")
    args.run_dir = args.run_dir.resolve()
    runs = []
    for i in range(max(1, args.repeat)):
        if args.repeat > 1:
            print(f"bench: run {i + 1} of {args.repeat}", file=sys.stderr)
        runs.append(run_once(args, sections))
    results = runs[-1]
    if len(runs) > 1:
        results["repeat"] = {"runs": len(runs), "spread": spread(runs), "all": runs[:-1]}
    dataplane.dump(results, args.out)
    print(table(results, sections))
    if len(runs) > 1:
        print(f"\nspread over {len(runs)} runs (each figure; a run that missed one is counted in runs/of):")
        print(spread_table(results["repeat"]["spread"]))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
