"""``make soak``: the default install with both sources for a while (``SOAK_MINUTES``, default 30), the RSS
and open file descriptors of every process sampled, then the slope of each and the task accounting.

Not part of the test suite: it runs for as long as it is told. Prints one table; nothing is asserted,
but the exit status is 1 when a task is missing or recorded twice.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import tempfile
import time
from pathlib import Path

import psutil

from tests.e2e.cluster import wait_until
from tests.faults.platform import SOURCES, Platform, start_platform


def processes(p: Platform) -> dict[str, psutil.Process]:
    """Every process of the platform, by name, from the pid files (components, backend, datasource)."""
    out: dict[str, psutil.Process] = {}
    for path in p.run.rglob("pids/*.json"):
        if "stopping" in path.parts:
            continue
        try:
            out[path.stem] = psutil.Process(int(json.loads(path.read_text())["pid"]))
        except (OSError, ValueError, KeyError, psutil.Error):
            continue
    return out


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope (units per hour) of (seconds, value) points."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    return 0.0 if var == 0 else sum((t - mx) * (v - my) for t, v in points) / var * 3600


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between samples")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dayu-soak-") as tmp, start_platform(Path(tmp)) as p:
        rss: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
        fds: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
        started = time.monotonic()
        warmup = min(60.0, args.minutes * 60 / 5)  # models load and caches fill first: not a leak
        while (elapsed := time.monotonic() - started) < args.minutes * 60:
            if elapsed >= warmup:
                for name, proc in processes(p).items():
                    try:
                        rss[name].append((elapsed, proc.memory_info().rss / 2**20))
                        fds[name].append((elapsed, float(proc.num_fds())))
                    except psutil.Error:
                        continue
            time.sleep(args.interval)
        p.api("POST", "/api/query/close")
        made = {s: p.generator_status(s)["next_task_id"] for s in SOURCES}
        with contextlib.suppress(AssertionError):  # what is still missing then is reported below
            wait_until(
                lambda: all(
                    {r["task_id"] for r in p.records() if r["source_id"] == s} >= set(range(made[s])) for s in SOURCES
                ),
                timeout=60,
                what="every task recorded",
            )
        records = p.records()
    print(f"soak: {args.minutes:g} min, both sources, samples every {args.interval:g}s after {warmup:.0f}s")
    print(f"{'process':<40} {'rss MiB first':>13} {'last':>7} {'MiB/h':>8} {'fds first':>9} {'last':>5} {'fds/h':>7}")
    for name in sorted(rss):
        r, f = rss[name], fds[name]
        print(
            f"{name:<40} {r[0][1]:>13.1f} {r[-1][1]:>7.1f} {slope(r):>8.1f} {f[0][1]:>9.0f} {f[-1][1]:>5.0f} "
            f"{slope(f):>7.1f}"
        )
    bad = False
    for s in SOURCES:
        mine = [r for r in records if r["source_id"] == s]
        ids = collections.Counter(r["task_id"] for r in mine)
        drops = collections.Counter(r["reason"] for r in mine if r["kind"] == "drop")
        missing = len(set(range(made[s])) - set(ids))
        twice = sum(1 for n in ids.values() if n > 1)
        results = sum(1 for r in mine if r["kind"] == "result")
        print(f"{s}: made {made[s]}, results {results}, drops {dict(drops)}, missing {missing}, recorded twice {twice}")
        bad = bad or missing > 0 or twice > 0
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
