"""``python -m tests.bench`` (``make bench``): data-plane figures, printed as a table and written to
``.dayu/bench/results.json``. ``--quick`` runs fewer rounds."""

from __future__ import annotations

import argparse
import importlib
import platform
import time
from pathlib import Path
from typing import Any

import psutil

from tests.bench import dataplane

TARGETS: list[tuple[str, str | None, str, float]] = [
    # (key, sub-key or None for every sub-key, comparison, bound)
    ("hop_overhead_ms_p50", "1MB", "<=", 5.0),
    ("passthrough_tasks_per_s", "", ">=", 100.0),
    ("throughput_ratio_vs_inprocess", None, ">=", 0.85),
    ("schedule_ms_p99", "", "<=", 10.0),
    ("rss_mb", None, "<=", 150.0),
]


def verdicts(results: dict[str, Any]) -> list[str]:
    """One line per target and figure: measured, bound, met or missed (processors have no RSS target)."""
    lines = []
    for key, sub, op, bound in TARGETS:
        value = results.get(key)
        if isinstance(value, dict):
            items = [(k, v) for k, v in value.items() if sub is None or k == sub]
        else:
            items = [("", value)]
        for name, figure in items:
            if key == "rss_mb" and name.startswith("proc-"):
                continue
            label = f"{key}[{name}]" if name else key
            if not isinstance(figure, int | float):
                lines.append(f"{label} {op} {bound:g}: not measured")
                continue
            met = figure <= bound if op == "<=" else figure >= bound
            lines.append(f"{label} = {figure:g} ({op} {bound:g}): {'met' if met else 'MISSED'}")
    return lines


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str]] = []
    for key, value in results.items():
        if isinstance(value, dict) and value and key != "controller_status":
            for sub, v in value.items():
                rows.append((f"{key}[{sub}]", str(v)))
        elif key != "controller_status":
            rows.append((key, str(value)))
    width = max(len(k) for k, _ in rows)
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  -----"]
    lines += [f"{k:<{width}}  {v}" for k, v in rows]
    lines.append("")
    lines.append("targets:")
    lines += [f"  {line}" for line in verdicts(results)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--out", type=Path, default=Path(".dayu/bench/results.json"))
    parser.add_argument("--skip-apps", action="store_true", help="data-plane figures only (no applications section)")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {
        "machine": {"cpus": psutil.cpu_count(), "python": platform.python_version(), "at": time.strftime("%F %T")}
    }
    dataplane.run(results, Path(".dayu/bench/run"), quick=args.quick)
    try:
        apps = None if args.skip_apps else importlib.import_module("tests.bench.apps")
    except ImportError:
        apps = None
    if apps is not None:
        apps.run(results)
    dataplane.dump(results, args.out)
    print(table(results))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
