"""Opt-in memory diagnostics: Python-level allocation snapshots a component writes on a signal.

With ``DAYU_TRACEMALLOC=<frames>`` (1-100) in its environment, a component starts :mod:`tracemalloc`
keeping that many frames per allocation, and on ``SIGUSR2`` writes a snapshot of every live allocation
to ``DAYU_TRACEMALLOC_DIR`` (default: ``dayu-tracemalloc`` in the system's temporary directory) as
``<service>-<pid>-<seq>.tracemalloc``. ``DAYU_TRACEMALLOC_SERVICES`` (comma-separated names, e.g.
``backend``) limits tracing to those services: the rest of the platform runs at full speed, so one
process can be traced through a long soak without slowing the whole machine down. Two snapshots of one
process, compared with ``python -m common.memtrace diff OLD NEW``, name the call sites whose live memory
grew in between: what RSS alone cannot say, and on a shared machine far less noisy than RSS. Unset (the
default) nothing is traced and no handler is installed: tracing costs every allocation time and memory.

A signal rather than a route: nothing reachable over the network can make a process write files, and a
process stuck in its event loop still answers it between two bytecodes.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import itertools
import json
import linecache
import os
import signal
import sys
import tempfile
import threading
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from common.errors import ConfigError
from common.workload import COMPONENT_MODULES

ENV_FRAMES = "DAYU_TRACEMALLOC"
ENV_DIR = "DAYU_TRACEMALLOC_DIR"
ENV_SERVICES = "DAYU_TRACEMALLOC_SERVICES"
SNAPSHOT_SIGNAL = signal.SIGUSR2
SUFFIX = ".tracemalloc"
MAX_FRAMES = 100

# Allocations of the tracing itself and of imports are not the process's own growth.
_NOISE = (
    tracemalloc.Filter(False, tracemalloc.__file__),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
    tracemalloc.Filter(False, linecache.__file__),
)


@dataclass(frozen=True)
class Tracer:
    """Where one traced process writes its snapshots."""

    service: str
    directory: Path
    frames: int

    def dump(self) -> Path:
        """Write a snapshot of every live traced allocation; returns its path. Written under a temporary
        name and renamed, so a reader never sees half a snapshot."""
        self.directory.mkdir(parents=True, exist_ok=True)
        snapshot = tracemalloc.take_snapshot().filter_traces(_NOISE)
        path = self.directory / f"{self.service}-{os.getpid()}-{next(_sequence):04d}{SUFFIX}"
        partial = path.with_suffix(".partial")
        snapshot.dump(str(partial))
        partial.replace(path)
        traced, _peak = tracemalloc.get_traced_memory()
        # tracemalloc's own tables come from malloc too, and its interned tracebacks are kept until it
        # stops: ``tracing`` is what to take off the allocator's figures before reading them as the app's.
        side = {
            "rss": rss_bytes(),
            "traced": traced,
            "tracing": tracemalloc.get_tracemalloc_memory(),
            "malloc": allocator_stats(),
        }
        stats_path(path).write_text(json.dumps(side))
        return path


def armed(directory: Path, pid: int) -> Path:
    """The file that says process ``pid`` handles the snapshot signal (it holds the service's name)."""
    return directory / f"{pid}.armed"


def stats_path(snapshot: Path) -> Path:
    """The process-wide figures written beside a snapshot: RSS, traced bytes and the C allocator's own."""
    return snapshot.with_suffix(".json")


_MALLINFO2 = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in _MALLINFO2]


def allocator_stats() -> dict[str, int] | None:
    """glibc's ``mallinfo2``: ``arena`` (heap bytes taken from the system by sbrk and arenas), ``hblkhd``
    (bytes in mmapped blocks), ``uordblks`` (bytes in use), ``fordblks`` (freed bytes the heap still holds)
    and ``keepcost`` (what trimming could give back at the top). Memory that C code allocates (codecs,
    OpenCV, SQLite, ONNX Runtime) counts here and not in tracemalloc: RSS growing with ``uordblks`` flat
    and ``fordblks`` growing is freed memory the allocator keeps, not a leak. None where the C library has
    no ``mallinfo2`` (not glibc, or glibc before 2.33)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _Mallinfo2
    info = mallinfo2()
    return {name: int(getattr(info, name)) for name in _MALLINFO2}


def rss_bytes() -> int | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


_sequence = itertools.count()
_installed: Tracer | None = None


def frames_from_env(environ: dict[str, str] | os._Environ[str] = os.environ) -> int | None:
    """The frame count ``DAYU_TRACEMALLOC`` asks for; None when unset or empty."""
    raw = environ.get(ENV_FRAMES, "").strip()
    if not raw:
        return None
    try:
        frames = int(raw)
    except ValueError:
        raise ConfigError(f"{ENV_FRAMES}={raw!r}: give the number of frames to keep, 1 to {MAX_FRAMES}") from None
    if not 1 <= frames <= MAX_FRAMES:
        raise ConfigError(f"{ENV_FRAMES}={frames}: frames to keep must be 1 to {MAX_FRAMES}")
    return frames


TRACEABLE = frozenset({*COMPONENT_MODULES, "backend", "datasource"})
"""The names a process traces under: every runtime component, the control plane and the datasource."""


def services_named(text: str) -> frozenset[str]:
    """The services a ``DAYU_TRACEMALLOC_SERVICES`` value names. A name that is no service is refused: a
    misspelt one would otherwise trace nothing, and say so only when a long soak's snapshots are missing."""
    named = frozenset(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(named - TRACEABLE)
    if unknown:
        raise ConfigError(
            f"{ENV_SERVICES} names no service: {', '.join(unknown)} (services: {', '.join(sorted(TRACEABLE))})"
        )
    return named


def traces_service(service: str, environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Whether ``DAYU_TRACEMALLOC_SERVICES`` (unset or empty: every service) names ``service``."""
    named = services_named(environ.get(ENV_SERVICES, ""))
    return not named or service in named


def install(service: str, environ: dict[str, str] | os._Environ[str] = os.environ) -> Tracer | None:
    """Start tracing and the snapshot signal when the environment asks for it; None (and nothing done) when
    it does not. Idempotent: a process traces once, whatever number of apps it builds. The signal handler
    is installed only from the main thread (Python allows no other); an app built elsewhere is traced but
    dumps only through :meth:`Tracer.dump`."""
    global _installed
    frames = frames_from_env(environ)
    if frames is None or not traces_service(service, environ):
        return None
    if _installed is not None:
        return _installed
    directory = Path(environ.get(ENV_DIR) or Path(tempfile.gettempdir()) / "dayu-tracemalloc")
    tracer = Tracer(service=service, directory=directory, frames=frames)
    if not tracemalloc.is_tracing():
        tracemalloc.start(frames)
    if threading.current_thread() is threading.main_thread():

        def on_signal(_signum: int, _frame: FrameType | None) -> None:
            tracer.dump()

        signal.signal(SNAPSHOT_SIGNAL, on_signal)
        # Only now may the signal be sent: before, its default action would end the process.
        directory.mkdir(parents=True, exist_ok=True)
        armed(directory, os.getpid()).write_text(service)
    _installed = tracer
    return tracer


@dataclass(frozen=True)
class Growth:
    """One call site's change in live memory between two snapshots."""

    size_diff: int
    count_diff: int
    size: int
    traceback: tuple[str, ...]  # "file:line", innermost first

    def line(self) -> str:
        where = " <- ".join(self.traceback)
        return f"{self.size_diff / 1024:+10.1f} KiB {self.count_diff:+8d} blocks ({self.size / 1024:9.1f} KiB): {where}"


def load(path: Path) -> tracemalloc.Snapshot:
    return tracemalloc.Snapshot.load(str(path))


def top_growth(
    old: tracemalloc.Snapshot, new: tracemalloc.Snapshot, *, limit: int = 10, key: str = "traceback"
) -> list[Growth]:
    """The ``limit`` call sites whose live memory grew most from ``old`` to ``new`` (``key``: ``traceback``
    groups by the whole kept stack, ``lineno`` by the innermost line only)."""
    stats = new.compare_to(old, key)
    grown = sorted((s for s in stats if s.size_diff > 0), key=lambda s: s.size_diff, reverse=True)
    return [
        Growth(
            size_diff=s.size_diff,
            count_diff=s.count_diff,
            size=s.size,
            # tracemalloc orders a traceback oldest frame first; the allocation site is the last one.
            traceback=tuple(f"{frame.filename}:{frame.lineno}" for frame in reversed(s.traceback)),
        )
        for s in grown[:limit]
    ]


def process_line(before: dict[str, Any], after: dict[str, Any]) -> str:
    """RSS, traced bytes and the allocator's figures, first -> last, in MiB."""
    cells = []
    pairs = [(name, before.get(name), after.get(name)) for name in ("rss", "traced", "tracing")]
    for name in ("arena", "hblkhd", "uordblks", "fordblks", "keepcost"):
        pairs.append((name, (before.get("malloc") or {}).get(name), (after.get("malloc") or {}).get(name)))
    for name, old, new in pairs:
        if old is not None and new is not None:
            cells.append(f"{name} {old / 2**20:.1f} -> {new / 2**20:.1f}")
    return "process (MiB): " + ", ".join(cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.memtrace", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    diff = sub.add_parser("diff", help="the call sites whose live memory grew most from OLD to NEW")
    diff.add_argument("old", type=Path)
    diff.add_argument("new", type=Path)
    diff.add_argument("--top", type=int, default=15)
    diff.add_argument("--key", choices=("traceback", "lineno", "filename"), default="traceback")
    args = parser.parse_args(argv)
    old, new = load(args.old), load(args.new)
    total = sum(s.size for s in new.statistics("filename")) - sum(s.size for s in old.statistics("filename"))
    print(f"traced live memory {total / 2**20:+.2f} MiB from {args.old.name} to {args.new.name}")
    with contextlib.suppress(OSError, ValueError):
        before, after = (json.loads(stats_path(p).read_text()) for p in (args.old, args.new))
        print(process_line(before, after))
    for growth in top_growth(old, new, limit=args.top, key=args.key):
        print(growth.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
