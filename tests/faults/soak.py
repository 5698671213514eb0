"""``make soak``: the default install with both sources for a while (``SOAK_MINUTES``, default 30), the RSS
and open file descriptors of every process sampled, then the slope of each and the task accounting.

With ``--dashboard`` (``SOAK_ARGS=--dashboard``) the web dashboard stays open the whole time in headless Debian
chromium (``frontend/e2e/watch.mjs``, driven by playwright-core): one page per source on its Results page,
and every ``--system-every`` minutes the System page for a minute. Each page is sampled every minute (JS heap
after a forced GC, DOM nodes, points per chart, requestAnimationFrame deltas, long frames and long tasks),
and the slope of the heap and of the DOM nodes is printed with the rest. Every 5 minutes chromium's own memory
dump of each Results page's browser (``frontend/e2e/memory.mjs``) says which allocator of which process holds
its memory; the slope of each is printed too.

With ``--tracemalloc FRAMES`` every process of the platform traces its allocations (``common.memtrace``)
and is told every ``--snapshot-every`` minutes to write a snapshot; at the end each process's top growth
sites and allocator figures, first snapshot to last, are printed (``docs/reliability.md``, "Memory").

Every minute one line of progress is printed (load average, machine CPU, tasks made, results, drops, in
flight) and, with ``--out``, every sample is written there as JSON Lines. Not part of the test suite: it
runs for as long as it is told. Nothing is asserted, but the exit status is 1 when a task is missing or
recorded twice, or when the dashboard watch failed.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, TextIO

import httpx
import psutil

from common import memtrace
from common.errors import ConfigError
from tests.e2e.cluster import wait_until
from tests.faults.platform import REPO, SOURCES, Platform, start_platform

FRONTEND = REPO / "frontend"
CHROMIUM = Path(os.environ.get("DAYU_CHROMIUM", "/usr/bin/chromium"))
Series = list[tuple[float, float]]


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


def slope(points: Series) -> float:
    """Least-squares slope (units per hour) of (seconds, value) points."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    return 0.0 if var == 0 else sum((t - mx) * (v - my) for t, v in points) / var * 3600


def tree_rss_mib(proc: psutil.Process) -> float:
    """RSS of a process and all its descendants (the browser: node, chromium and its renderers)."""
    total = 0
    for member in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total / 2**20


def browser_kind(proc: psutil.Process) -> str:
    """What a process of the browser's tree is: node (playwright-core), chromium's browser process, or the
    ``--type=`` chromium gave it (renderer, gpu-process, utility: the network service and others, zygote)."""
    cmdline = proc.cmdline()
    if cmdline and os.path.basename(cmdline[0]).startswith("node"):
        return "node"
    for arg in cmdline:
        if arg.startswith("--type="):
            kind = arg.removeprefix("--type=")
            if kind == "utility":
                service = next((a for a in cmdline if a.startswith("--utility-sub-type=")), "")
                return f"utility {service.removeprefix('--utility-sub-type=').rsplit('.', 1)[-1]}".strip()
            return kind
    return "browser"


def browser_memory_mib(proc: psutil.Process) -> dict[str, float]:
    """The browser's memory by kind of process, in MiB: ``rss`` (what the summed RSS counts: shared pages once
    per process), ``pss`` (shared pages split between the processes that map them, so the kinds add up to
    what the tree really holds) and ``uss`` (pages no other process maps), plus ``processes`` per kind."""
    out: dict[str, float] = collections.defaultdict(float)
    for member in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            kind = browser_kind(member)
            full = member.memory_full_info()
            out[f"{kind} pss"] += full.pss / 2**20
            out[f"{kind} uss"] += full.uss / 2**20
            out[f"{kind} processes"] += 1
            out["total pss"] += full.pss / 2**20
            out["total rss"] += full.rss / 2**20
    return dict(out)


class Journal:
    """Samples kept in memory and, when asked, appended to a JSON Lines file as they come."""

    def __init__(self, path: Path | None) -> None:
        self.lock = threading.Lock()
        self.records: list[dict[str, Any]] = []
        self.file: TextIO | None = path.open("a") if path else None

    def add(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.records.append(record)
            if self.file:
                self.file.write(json.dumps(record) + "\n")
                self.file.flush()

    def of(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.records if r.get("kind") == kind]

    def close(self) -> None:
        if self.file:
            self.file.close()


class DashboardWatch:
    """``frontend/e2e/watch.mjs`` in a child process; its JSON lines go to the journal as ``browser``."""

    def __init__(self, p: Platform, journal: Journal, *, minutes: float, system_every: float) -> None:
        if shutil.which("node") is None or not (FRONTEND / "node_modules" / "playwright-core").is_dir():
            raise SystemExit("--dashboard needs Node.js and frontend/node_modules (hack/setup.sh installs them)")
        if not CHROMIUM.is_file():
            raise SystemExit(f"--dashboard needs {CHROMIUM} (hack/system-deps.sh installs Debian's chromium)")
        if not (FRONTEND / "dist" / "index.html").is_file():
            raise SystemExit("--dashboard needs the built dashboard, frontend/dist (hack/setup.sh builds it)")
        env = {
            **os.environ,
            "DAYU_URL": p.url,
            "DAYU_TOKEN": p.headers["Authorization"].removeprefix("Bearer "),
            "DAYU_CHROMIUM": str(CHROMIUM),
            "DAYU_WATCH_SOURCES": ",".join(SOURCES),
            "DAYU_WATCH_MINUTES": str(minutes + 5),  # its own bound; stopped before that
            "DAYU_WATCH_SYSTEM_EVERY_S": str(system_every * 60),
        }
        self.journal = journal
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            ["node", "e2e/watch.mjs"], cwd=FRONTEND, env=env, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            self.journal.add({"kind": "browser", "elapsed": time.monotonic() - self.started, **record})

    def rss_mib(self) -> float | None:
        with contextlib.suppress(psutil.Error):
            return tree_rss_mib(psutil.Process(self.proc.pid))
        return None

    def memory_mib(self) -> dict[str, float]:
        with contextlib.suppress(psutil.Error):
            return browser_memory_mib(psutil.Process(self.proc.pid))
        return {}

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=10)
        self.reader.join(timeout=10)
        return code


def progress(p: Platform, elapsed: float) -> dict[str, Any]:
    """Load of the machine and tasks so far: made (generators), results and drops (distributor)."""
    made = {s: p.generator_status(s)["next_task_id"] for s in SOURCES}
    stats = p.http.get(f"{p.topology().component_url('distributor')}/stats").json()["sources"]
    record: dict[str, Any] = {
        "kind": "progress",
        "elapsed": elapsed,
        "load1": os.getloadavg()[0],
        "cpu_percent": psutil.cpu_percent(interval=None),
    }
    for s in SOURCES:
        results = stats.get(s, {}).get("results", 0)
        drops = sum(stats.get(s, {}).get("drops", {}).values())
        record[s] = {
            "made": made[s],
            "results": results,
            "drops": drops,
            "in_flight": made[s] - results - drops,
            # The deepest backlog of frames its encoder thread has had: a generator's RSS step is set against it.
            "awaiting_encoder_peak": p.generator_metric(s, "generator_frames_awaiting_encoder_peak"),
        }
    return record


class Snapshots:
    """``--tracemalloc``: every process of the platform traced (``common.memtrace``), told to write a
    snapshot every ``every_s`` seconds; at the end, per process, the call sites that grew most from its
    first snapshot to its last."""

    def __init__(self, directory: Path, frames: int, every_s: float, services: str = "") -> None:
        self.directory = directory
        self.every_s = every_s
        self.next_at = 0.0
        self.frames = frames
        self.services = services

    def environment(self) -> dict[str, str]:
        """For the environment of every process dayu.sh starts (the backend, and through it every
        component). Never set in this process's own environment: a test that made the soak's tracing
        variables outlive it had every later in-process server traced, and the suite ran ten times slower."""
        env = {memtrace.ENV_FRAMES: str(self.frames), memtrace.ENV_DIR: str(self.directory)}
        if self.services:
            env[memtrace.ENV_SERVICES] = self.services
        return env

    def maybe_take(self, elapsed: float, pids: set[int]) -> None:
        """Signal the platform's live processes (``pids``, from its pid files) that say they handle the
        signal: a marker left by a process that has since ended may name a pid reused by another one."""
        if elapsed < self.next_at:
            return
        self.next_at = elapsed + self.every_s
        for pid in pids:
            if memtrace.armed(self.directory, pid).exists():
                with contextlib.suppress(OSError):
                    os.kill(pid, memtrace.SNAPSHOT_SIGNAL)

    def report(self, names: dict[int, str], top: int = 8) -> None:
        by_pid: dict[int, list[Path]] = collections.defaultdict(list)
        for path in sorted(self.directory.glob(f"*{memtrace.SUFFIX}")):
            by_pid[int(path.stem.split("-")[-2])].append(path)
        print(f"\ntracemalloc: snapshots in {self.directory}; per process, first -> last")
        for pid, paths in sorted(by_pid.items(), key=lambda item: names.get(item[0], "")):
            if len(paths) < 2:
                continue
            print(f"{names.get(pid, paths[0].name.rsplit('-', 2)[0])} (pid {pid}, {len(paths)} snapshots):")
            try:
                growth = memtrace.top_growth(memtrace.load(paths[0]), memtrace.load(paths[-1]), limit=top)
            except (OSError, EOFError, ValueError) as exc:
                print(f"  unreadable: {exc!r}")
                continue
            with contextlib.suppress(OSError, ValueError):
                before, after = (json.loads(memtrace.stats_path(p).read_text()) for p in (paths[0], paths[-1]))
                print(f"  {memtrace.process_line(before, after)}")
            for g in growth:
                print(f"  {g.line()}")


def soak(args: argparse.Namespace, journal: Journal) -> int:
    rss: dict[str, Series] = collections.defaultdict(list)
    fds: dict[str, Series] = collections.defaultdict(list)
    names: dict[int, str] = {}
    warmup = min(60.0, args.minutes * 60 / 5)  # models load and caches fill first: not a leak
    snapshots = (
        Snapshots(
            args.snapshot_dir or Path(tempfile.mkdtemp(prefix="dayu-soak-tracemalloc-")),
            args.tracemalloc,
            args.snapshot_every * 60,
            args.tracemalloc_only,
        )
        if args.tracemalloc
        else None
    )
    platform_env = snapshots.environment() if snapshots else None
    with (
        tempfile.TemporaryDirectory(prefix="dayu-soak-") as tmp,
        start_platform(Path(tmp), extra_env=platform_env) as p,
    ):
        watch = (
            DashboardWatch(p, journal, minutes=args.minutes, system_every=args.system_every) if args.dashboard else None
        )
        psutil.cpu_percent(interval=None)  # the first call only starts the measure
        started = time.monotonic()
        length = min(args.minutes * 60, seconds_until(args.stop_at)) if args.stop_at else args.minutes * 60
        next_progress = started + 60
        try:
            while (elapsed := time.monotonic() - started) < length:
                if elapsed >= warmup:
                    live = processes(p)
                    if snapshots:
                        snapshots.maybe_take(elapsed - warmup, {proc.pid for proc in live.values()})
                    for name, proc in live.items():
                        names[proc.pid] = name
                        try:
                            rss[name].append((elapsed, proc.memory_info().rss / 2**20))
                            fds[name].append((elapsed, float(proc.num_fds())))
                        except psutil.Error:
                            continue
                        journal.add({"kind": "process", "elapsed": elapsed, "name": name, "rss_mib": rss[name][-1][1]})
                    browser = watch.rss_mib() if watch else None
                    if browser is not None:
                        rss["(browser: node + chromium)"].append((elapsed, browser))
                    if watch:
                        by_kind = watch.memory_mib()
                        journal.add({"kind": "browser_memory", "elapsed": elapsed, **by_kind})
                        for key, mib in by_kind.items():
                            if not key.endswith("processes"):
                                rss[f"(browser) {key}"].append((elapsed, mib))
                if time.monotonic() >= next_progress:
                    next_progress += 60
                    try:
                        record = progress(p, elapsed)
                    except (httpx.HTTPError, KeyError, ValueError) as exc:  # a component restarting: next minute
                        print(f"soak: {elapsed / 60:5.1f} min: no progress sample ({exc!r})", flush=True)
                    else:
                        journal.add(record)
                        print(one_line(record), flush=True)
                time.sleep(args.interval)
        finally:
            watch_code = watch.stop() if watch else 0
        p.api("POST", "/api/query/close")
        made = {s: p.generator_status(s)["next_task_id"] for s in SOURCES}
        with contextlib.suppress(AssertionError):  # what is still missing then is reported below
            wait_until(
                lambda: all(
                    {r["task_id"] for r in p.records() if r["source_id"] == s} >= set(range(made[s])) for s in SOURCES
                ),
                timeout=60,
                interval=5.0,
                what="every task recorded",
            )
        records = p.records()
    print(f"\nsoak: {length / 60:.1f} min, both sources, samples every {args.interval:g}s after {warmup:.0f}s")
    print_processes(rss, fds, settle_s=args.settle * 60)
    bad = print_accounting(records, made)
    print_load(journal.of("progress"))
    if snapshots:
        snapshots.report(names)
    if watch:
        bad = print_dashboard(journal.of("browser"), settle_s=args.settle * 60) or watch_code != 0 or bad
        print_browser_allocators(journal.of("browser"), settle_s=args.settle * 60)
    return 1 if bad else 0


def seconds_until(clock: str, now: datetime.datetime | None = None) -> float:
    """Seconds from now until the next ``HH:MM`` UTC: today's, or tomorrow's once today's has passed (a
    soak started at 23:40 with ``--stop-at 00:53`` runs until 00:53, not zero minutes)."""
    hour, minute = (int(part) for part in clock.split(":"))
    now = now or datetime.datetime.now(datetime.UTC)
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if at <= now:
        at += datetime.timedelta(days=1)
    return (at - now).total_seconds()


def one_line(record: dict[str, Any]) -> str:
    tasks = " ".join(
        f"{s} made {record[s]['made']} results {record[s]['results']} drops {record[s]['drops']} "
        f"in flight {record[s]['in_flight']} encoder backlog peak {record[s].get('awaiting_encoder_peak')}"
        for s in SOURCES
    )
    return (
        f"soak: {record['elapsed'] / 60:5.1f} min load {record['load1']:.2f} cpu {record['cpu_percent']:.0f}% {tasks}"
    )


def print_processes(rss: dict[str, Series], fds: dict[str, Series], *, settle_s: float) -> None:
    """Per process: RSS and fds first, last and slope, and the RSS slope once settled (after ``settle_s``, when
    start-up caches, model sessions and allocator arenas have filled: the figure a leak shows in)."""
    settled = f"MiB/h >{settle_s / 60:g}m"
    print(
        f"{'process':<40} {'rss MiB first':>13} {'last':>7} {'MiB/h':>8} {settled:>11} "
        f"{'fds first':>9} {'last':>5} {'fds/h':>7}"
    )
    for name in sorted(rss):
        r, f = rss[name], fds.get(name)
        late = [pt for pt in r if pt[0] >= settle_s]
        late_cell = f"{slope(late):>11.1f}" if len(late) >= 2 else f"{'-':>11}"
        fd_cells = f"{f[0][1]:>9.0f} {f[-1][1]:>5.0f} {slope(f):>7.1f}" if f else f"{'-':>9} {'-':>5} {'-':>7}"
        print(f"{name:<40} {r[0][1]:>13.1f} {r[-1][1]:>7.1f} {slope(r):>8.1f} {late_cell} {fd_cells}")


def print_accounting(records: list[dict[str, Any]], made: dict[str, int]) -> bool:
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
    return bad


def print_load(samples: list[dict[str, Any]]) -> None:
    if not samples:
        return
    loads = [s["load1"] for s in samples]
    cpus = [s["cpu_percent"] for s in samples]
    print(
        f"machine ({os.cpu_count()} cores, shared): load1 median {statistics.median(loads):.2f} max {max(loads):.2f}; "
        f"cpu median {statistics.median(cpus):.0f}% max {max(cpus):.0f}% (per-minute samples)"
    )


def print_dashboard(samples: list[dict[str, Any]], *, settle_s: float) -> bool:
    """Per page: heap, DOM and points over the run, and how smooth its frames were. True when it failed."""
    failed = [s for s in samples if s.get("event") in ("failed", "page-errors", "page-failed")]
    for f in failed:
        print(f"dashboard: {f.get('event')}: {f.get('error') or f.get('errors')}")
    for s in samples:
        if s.get("event") == "sample-error":
            print(f"dashboard: a sample of {s['page']} failed at {s['elapsed'] / 60:.1f} min: {s['error']}")
    pages = sorted({s["page"] for s in samples if s.get("event") == "sample"})
    print(
        f"\ndashboard (sampled every minute; slopes after {settle_s / 60:g} min, once the buffers are full)\n"
        f"{'page':<16} {'samples':>7} {'heap MiB first':>14} {'last':>6} {'MiB/h':>7} {'DOM first':>9} {'last':>5} "
        f"{'nodes/h':>8} {'max pts/chart':>13} {'frames':>7} {'p50 ms':>6} {'p95':>5} {'p99':>5} {'max':>6} "
        f"{'long':>5} {'long tasks':>10}"
    )
    for page in pages:
        mine = [s for s in samples if s.get("event") == "sample" and s["page"] == page]
        late = [s for s in mine if s["elapsed"] >= settle_s] or mine
        heap = [(s["elapsed"], s["heap_mb"]) for s in late]
        dom = [(s["elapsed"], float(s["dom_nodes"])) for s in late]
        points = max((c["points"] for s in mine for c in s["chart_points"]), default=0)
        frames = sum(s["frames"] for s in mine)
        p50, p95, p99 = (median_of(mine, k) for k in ("p50", "p95", "p99"))
        worst = max((s["deltas_ms"]["max"] or 0.0 for s in mine), default=0.0)
        print(
            f"{page:<16} {len(mine):>7} {mine[0]['heap_mb']:>14.1f} {mine[-1]['heap_mb']:>6.1f} {slope(heap):>7.2f} "
            f"{mine[0]['dom_nodes']:>9} {mine[-1]['dom_nodes']:>5} {slope(dom):>8.1f} {points:>13} {frames:>7} "
            f"{p50:>6.1f} {p95:>5.1f} {p99:>5.1f} {worst:>6.0f} {sum(s['long_frames'] for s in mine):>5} "
            f"{sum(s['long_tasks'] for s in mine):>10}"
        )
    print("(p50/p95/p99: medians over the minutes of each minute's requestAnimationFrame-delta percentile; max: the")
    print(" worst delta of the run; long: frames over 50 ms; long tasks: main-thread tasks over 50 ms)")
    return bool(failed) or not pages


def allocator_series(samples: list[dict[str, Any]], phase: str | None = None) -> dict[tuple[str, str, str], Series]:
    """From the watch's ``memory`` records: (page, kind of process, ``footprint`` or an allocator) -> MiB over
    time, each kind summed over its processes in that page's browser (a spare renderer included). ``phase``
    None: the run's dumps (the one after the simulated pressure left out); else only that phase's dumps."""
    series: dict[tuple[str, str, str], Series] = collections.defaultdict(list)
    for record in samples:
        if record.get("event") != "memory":
            continue
        if (phase is None and record.get("phase") == "after-pressure") or (
            phase is not None and record.get("phase") != phase
        ):
            continue
        totals: dict[tuple[str, str, str], float] = collections.defaultdict(float)
        for proc in record["processes"]:
            if proc.get("footprint_mb") is not None:
                totals[(record["page"], proc["kind"], "footprint")] += proc["footprint_mb"]
            for name, mib in proc["allocators_mb"].items():
                totals[(record["page"], proc["kind"], name)] += mib
        for key, mib in totals.items():
            series[key].append((record["elapsed"], mib))
    return series


def print_browser_allocators(samples: list[dict[str, Any]], *, settle_s: float, least_mib: float = 1.0) -> None:
    """Chromium's own memory dumps (``frontend/e2e/memory.mjs``): per page, process kind and allocator, the
    first and last MiB and the slope once settled. Allocators under ``least_mib`` throughout are left out."""
    for failure in (s for s in samples if s.get("event") == "memory-error"):
        when = failure["elapsed"] / 60
        print(f"dashboard: a memory dump of {failure['page']} failed at {when:.1f} min: {failure['error']}")
    series = allocator_series(samples)
    if not series:
        return
    print(
        "\nchromium memory-infra dumps (private footprint and top-level allocators, MiB; "
        f"slopes after {settle_s / 60:g} min)"
    )
    print(f"{'page':<16} {'process':<40} {'what':<18} {'dumps':>5} {'first':>8} {'last':>8} {'MiB/h':>8}")
    for (page, kind, what), points in sorted(series.items()):
        if max(mib for _, mib in points) < least_mib:
            continue
        late = [pt for pt in points if pt[0] >= settle_s]
        rate = f"{slope(late):>8.1f}" if len(late) >= 2 else f"{'-':>8}"
        print(
            f"{page:<16} {kind[:40]:<40} {what:<18} {len(points):>5} {points[0][1]:>8.1f} {points[-1][1]:>8.1f} {rate}"
        )
    before, after = allocator_series(samples, "before-pressure"), allocator_series(samples, "after-pressure")
    if after:
        print("\nat the end, before -> after a simulated critical memory pressure (what chromium gave back was cache)")
        for key in sorted(set(before) & set(after)):
            if max(before[key][-1][1], after[key][-1][1]) >= least_mib:
                page, kind, what = key
                print(f"{page:<16} {kind[:40]:<40} {what:<18} {before[key][-1][1]:>8.1f} -> {after[key][-1][1]:>8.1f}")


def median_of(samples: list[dict[str, Any]], key: str) -> float:
    """The median over the minutes of one frame-delta percentile."""
    values = [s["deltas_ms"][key] for s in samples if s["deltas_ms"][key] is not None]
    return float(statistics.median(values)) if values else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between RSS and fd samples")
    parser.add_argument("--dashboard", action="store_true", help="keep the dashboard open in headless chromium")
    parser.add_argument("--system-every", type=float, default=15.0, help="minutes between System page visits")
    parser.add_argument(
        "--settle", type=float, default=10.0, help="minutes before the slopes count (processes, dashboard)"
    )
    parser.add_argument("--out", type=Path, help="append every sample to this JSON Lines file")
    parser.add_argument("--stop-at", metavar="HH:MM", help="stop sampling by this UTC time at the latest")
    parser.add_argument(
        "--tracemalloc", type=int, metavar="FRAMES", help="trace every process's allocations (common.memtrace)"
    )
    parser.add_argument(
        "--tracemalloc-only",
        default="",
        metavar="NAMES",
        help="with --tracemalloc: trace only these services (comma-separated, e.g. backend); the rest run untraced",
    )
    parser.add_argument("--snapshot-every", type=float, default=3.0, help="minutes between tracemalloc snapshots")
    parser.add_argument("--snapshot-dir", type=Path, help="where the snapshots go (default: a new temporary folder)")
    args = parser.parse_args()
    try:  # a misspelt name would trace nothing, found out only when the snapshots are missing at the end
        memtrace.services_named(args.tracemalloc_only)
    except ConfigError as exc:
        parser.error(exc.message)
    # Stopped with SIGTERM, it still takes the platform and the browser down (the finally clauses run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    journal = Journal(args.out)
    try:
        return soak(args, journal)
    finally:
        journal.close()


if __name__ == "__main__":
    sys.exit(main())
