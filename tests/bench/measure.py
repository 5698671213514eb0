"""How the bench keeps its figures honest on a shared machine: the machine's load around every timing
figure, percentiles, and the spread of each figure over repeated runs."""

from __future__ import annotations

import contextlib
import os
import statistics
from collections.abc import Iterator
from typing import Any

import psutil


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def busy_share(before: Any, after: Any) -> float | None:
    """Share of all cores busy between two ``psutil.cpu_times()`` readings."""
    total = sum(after) - sum(before)
    idle = (after.idle - before.idle) + (getattr(after, "iowait", 0.0) - getattr(before, "iowait", 0.0))
    return round(1 - idle / total, 3) if total > 0 else None


@contextlib.contextmanager
def load_window(results: dict[str, Any], figure: str) -> Iterator[None]:
    """Record, under ``results["load"][figure]``, the load average (1, 5, 15 min) before and after the block
    and the share of all cores busy while it ran (everything on the machine, the bench's own processes
    included). The 1-minute load average lags by design; the busy share does not."""
    before, cpu_before = os.getloadavg(), psutil.cpu_times()
    try:
        yield
    finally:
        after, cpu_after = os.getloadavg(), psutil.cpu_times()
        results.setdefault("load", {})[figure] = {
            "before": [round(x, 2) for x in before],
            "after": [round(x, 2) for x in after],
            "cpu_busy_share": busy_share(cpu_before, cpu_after),
        }


def flatten(results: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Every numeric figure by a dotted key (``hop_overhead_ms_p50.1MB``); load records are left out."""
    out: dict[str, float] = {}
    for key, value in results.items():
        name = f"{prefix}{key}"
        if key in ("load", "machine", "controller_status", "errors") and not prefix:
            continue
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            out[name] = float(value)
        elif isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
    return out


def spread(runs: list[dict[str, Any]]) -> dict[str, dict[str, float | int]]:
    """min / median / max / relative range of each figure over ``runs`` (figures a run missed are counted)."""
    flat = [flatten(r) for r in runs]
    keys = sorted({k for f in flat for k in f})
    out: dict[str, dict[str, float | int]] = {}
    for key in keys:
        values = [f[key] for f in flat if key in f and f[key] == f[key]]  # NaN is not a figure
        if not values:
            continue
        median = statistics.median(values)
        out[key] = {
            "min": round(min(values), 3),
            "median": round(median, 3),
            "max": round(max(values), 3),
            "range_pct": round((max(values) - min(values)) / abs(median) * 100, 1) if median else 0.0,
            "runs": len(values),
            "of": len(runs),
        }
    return out
