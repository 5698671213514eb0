"""``python -m tests.bench.compare BEFORE AFTER`` (``make bench-compare``): two ``results.json`` of
``make bench`` set side by side, figure by figure, saying which got worse.

A change is judged on figures of the same machine in the same quiet session, each file preferably made with
``BENCH_REPEAT=3``: a figure is then **worse** only when the after runs' best is worse than the before runs'
worst (the two ranges do not overlap) and **better** the other way round; overlapping ranges are **same**, with
the medians' change printed. A file of one run has no range: its figure counts as a range of ``--tolerance``
(default 10 %) around it, which is about the spread of one run on this machine.

Which way is better comes from the targets of ``make bench`` (``<=``: lower, ``>=``: higher), then from the
figure's name (latency, CPU, memory, drops: lower; rates, ratios over a floor, accuracy: higher). Floors, the
workload's own settings and counts are printed as context, never judged: a floor is the machine's, not the
code's. The exit status is 1 when a figure got worse or a judged figure is missing after, else 0.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tests.bench.measure import flatten
from tests.bench.targets import TARGETS

Better = Literal["lower", "higher"]
Verdict = Literal["worse", "better", "same", "context", "missing", "new"]

CONTEXT: tuple[str, ...] = (
    # The floors: the bare chain and the bare hop measured beside Dayu, the machine's figures.
    "chain_floor_*",
    "hop_floor_*",
    "*.chain_cpu_*",
    # The bench's own driver: the load, not Dayu.
    "passthrough_cpu_ms_per_task.bench",
    # What the run was given or counted, not how well it did.
    "e2e_budget.*",
    "*.alone_ms_per_segment.*",
    "passthrough_connections.*",
    "passthrough_window",
    "passthrough_results",
    "*bound_ms_*",
    "scale.streams_bound",
    "scale.streams.*.x_bound",
    "scale.streams.*.offered_per_s",
    "scale.streams.*.shed_share",
    # Past capacity shedding is the design: the share delivered and the results per second are judged instead.
    "scale.streams.*.drops",
    "scale.streams.*.drop_rate",
    "scale.streams.*.drops_by_reason.*",
    "scale.tested",
    "*_cores_on_its_processes",
    "*busy_share*",
    "*.busy_ratio",
    "*.frames",
    "*.threads",
    "*.seconds",
    "*.candidates",
    "*detections",
    "*.results",
    "apps._*",
)
"""Figures printed for context and never judged (first match wins, before any direction)."""

BY_NAME: tuple[tuple[str, Better], ...] = (
    ("*ratio_vs_floor*", "higher"),
    ("hop_ratio_vs_floor*", "lower"),
    ("*_ratio_vs_bound.*.p50", "lower"),
    ("*_ratio_vs_bound.*.p95", "lower"),
    ("*ratio_vs_bound", "higher"),
    ("throughput_ratio_vs_inprocess.*", "higher"),
    ("scale.overload_ratio", "higher"),
    ("scale.max_streams*", "higher"),
    ("scale.delivered_streams*", "higher"),
    ("*delivered_share", "higher"),
    ("*delivered_or_shed_share", "higher"),
    ("*_per_s", "higher"),
    ("*fps*", "higher"),
    ("*accuracy*", "higher"),
    ("*f1*", "higher"),
    ("*.cpu_ratio", "lower"),
    ("*rss_mb*", "lower"),
    ("*drop*", "lower"),
    ("*faults*", "lower"),
    ("*_ms*", "lower"),
    ("*ms_per_*", "lower"),
    ("*_s_per_*", "lower"),
    ("*model_s", "lower"),
)
"""Which way is better for a figure no target names, by its name (first match wins)."""


def better_of(key: str) -> Better | None:
    """Which way is better for ``key``; None for a context figure (or one whose name says nothing)."""
    if any(fnmatch.fnmatchcase(key, pattern) for pattern in CONTEXT):
        return None
    for pattern, op, _bound in TARGETS:
        if fnmatch.fnmatchcase(key, pattern):
            return "lower" if op == "<=" else "higher"
    # hop_ratio_vs_floor is a time over its floor (lower is better) where the other ratios over a floor are
    # rates: the more specific pattern is looked at first.
    for pattern, better in sorted(BY_NAME, key=lambda rule: not rule[0].startswith("hop_")):
        if fnmatch.fnmatchcase(key, pattern):
            return better
    return None


@dataclass(frozen=True)
class Range:
    """A figure in one file: its median and the range of its runs (one run: a band of the tolerance)."""

    median: float
    low: float
    high: float
    runs: int


def ranges(results: dict[str, Any], tolerance: float) -> dict[str, Range]:
    """Every figure of a ``results.json``: from its spread over repeated runs when it has one."""
    spread = results.get("repeat", {}).get("spread")
    if spread:
        return {
            key: Range(float(s["median"]), float(s["min"]), float(s["max"]), int(s["runs"]))
            for key, s in spread.items()
        }
    out = {}
    for key, value in flatten(results).items():
        if value != value:  # NaN is not a figure
            continue
        band = abs(value) * tolerance
        out[key] = Range(value, value - band, value + band, 1)
    return out


def judge(before: Range, after: Range, better: Better) -> Verdict:
    if better == "lower":
        if after.low > before.high:
            return "worse"
        if after.high < before.low:
            return "better"
    else:
        if after.high < before.low:
            return "worse"
        if after.low > before.high:
            return "better"
    return "same"


@dataclass(frozen=True)
class Row:
    key: str
    verdict: Verdict
    better: Better | None
    before: Range | None
    after: Range | None

    def line(self, width: int) -> str:
        def show(r: Range | None) -> str:
            if r is None:
                return f"{'-':>28}"
            return f"{r.median:>10g} [{r.low:g}-{r.high:g}]".rjust(28)

        change = ""
        if self.before is not None and self.after is not None and self.before.median:
            change = f"{(self.after.median - self.before.median) / abs(self.before.median) * 100:+.1f}%"
        way = {"lower": "lower is better", "higher": "higher is better", None: ""}[self.better]
        return f"{self.key:<{width}} {show(self.before)} {show(self.after)} {change:>8}  {self.verdict:<7} {way}"


ORDER: tuple[Verdict, ...] = ("worse", "missing", "better", "same", "new", "context")


def compare(before: dict[str, Any], after: dict[str, Any], tolerance: float = 0.10) -> list[Row]:
    """One row per figure of either file, the worse ones first."""
    old, new = ranges(before, tolerance), ranges(after, tolerance)
    rows = []
    for key in sorted(old.keys() | new.keys()):
        better = better_of(key)
        b, a = old.get(key), new.get(key)
        verdict: Verdict
        if better is None:
            verdict = "context"
        elif b is None:
            verdict = "new"
        elif a is None:
            verdict = "missing"
        else:
            verdict = judge(b, a, better)
        rows.append(Row(key, verdict, better, b, a))
    return sorted(rows, key=lambda row: ORDER.index(row.verdict))


def report(rows: list[Row], *, show_all: bool) -> str:
    shown = [r for r in rows if show_all or r.verdict in ("worse", "missing", "better")]
    width = max((len(r.key) for r in shown), default=10)
    lines = [f"{'figure':<{width}} {'before: median [range]':>28} {'after: median [range]':>28} {'change':>8}  verdict"]
    lines += [r.line(width) for r in shown]
    counts = {v: sum(1 for r in rows if r.verdict == v) for v in ORDER}
    lines.append("")
    lines.append(", ".join(f"{counts[v]} {v}" for v in ORDER))
    return "\n".join(lines)


def load(path: Path) -> dict[str, Any]:
    try:
        results = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"{path}: not a results.json of make bench ({exc})") from None
    if not isinstance(results, dict):
        raise SystemExit(f"{path}: not a results.json of make bench (a JSON object expected)")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path, help="results.json before the change")
    parser.add_argument("after", type=Path, help="results.json after the change")
    parser.add_argument(
        "--tolerance", type=float, default=0.10, help="a single run's band, as a share of its figure (default 0.10)"
    )
    parser.add_argument("--all", action="store_true", help="print every figure, not only those that moved")
    args = parser.parse_args(argv)
    if not 0 <= args.tolerance < 1:
        parser.error("--tolerance is a share from 0 to below 1")
    rows = compare(load(args.before), load(args.after), args.tolerance)
    print(report(rows, show_all=args.all))
    return 1 if any(r.verdict in ("worse", "missing") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
