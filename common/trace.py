"""Bandwidth traces: how fast (and how slow) a link is at each moment of a run.

A trace is a CSV file with a header ``t_s,mbit_per_s`` and optionally ``delay_ms``. Each row gives the
link's rate (and one-way delay) from its ``t_s`` until the next row's. Replay starts at install time.
In ``loop`` mode the last row marks where the trace starts again from its first row (so its values are
never used); in ``hold`` mode the last row's values stay in force for ever after. A trace with a single
row is a constant link.

A row at 0 Mbit/s is an outage: the link delivers nothing until the next row (measured cellular uplinks
have whole seconds of it). A trace needs at least one row above 0 that replay uses, and its rows may be
any distance apart (milliseconds or minutes) and as many as the file holds.

Traces shipped with the project live in ``template/traces/<name>.csv``; a link names one by that name or
by a file path.
"""

from __future__ import annotations

import bisect
import csv
import io
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from common.errors import ConfigError

TraceMode = Literal["loop", "hold"]
TRACE_DIR = Path(__file__).resolve().parents[1] / "template" / "traces"
MAX_SEGMENTS_WALKED = 100_000
"""Bound on the segments walked to place one transfer (a huge transfer over a tiny looping trace)."""


@dataclass(frozen=True)
class TracePoint:
    t_s: float
    mbit_per_s: float
    delay_ms: float | None = None


class Trace:
    """A parsed trace and its replay: the rate and delay ``t`` seconds after the start."""

    def __init__(self, points: list[TracePoint], *, mode: TraceMode = "loop", name: str = "trace") -> None:
        if not points:
            raise ConfigError(f"trace {name!r} has no rows")
        if points[0].t_s != 0:
            raise ConfigError(f"trace {name!r} must start at t_s=0, its first row is at {points[0].t_s:g}")
        for before, after in itertools.pairwise(points):
            if after.t_s <= before.t_s:
                raise ConfigError(f"trace {name!r}: t_s must increase, {after.t_s:g} follows {before.t_s:g}")
        if mode not in ("loop", "hold"):
            raise ConfigError(f"trace mode must be 'loop' or 'hold', got {mode!r}")
        self.points = points
        self.mode: TraceMode = mode
        self.name = name
        self._times = [p.t_s for p in points]
        used = points[:-1] if self._looping() else points
        if not any(p.mbit_per_s > 0 for p in used):
            raise ConfigError(f"trace {name!r} is an outage from start to end: no row it replays is above 0 Mbit/s")

    @property
    def period_s(self) -> float:
        """Length of one pass (the last row's ``t_s``); 0 for a single-row trace."""
        return self.points[-1].t_s

    def _looping(self) -> bool:
        return self.mode == "loop" and len(self.points) > 1

    def _local(self, t: float) -> float:
        t = max(0.0, t)
        return t % self.period_s if self._looping() else t

    def point_at(self, t: float) -> TracePoint:
        local = self._local(t)
        index = bisect.bisect_right(self._times, local) - 1
        if self._looping():
            index = min(index, len(self.points) - 2)  # the closing row only marks the period
        return self.points[max(0, index)]

    def rate_at(self, t: float) -> float:
        """Mbit/s ``t`` seconds after the start (0 during an outage)."""
        return self.point_at(t).mbit_per_s

    def initial_rate(self) -> float:
        """The rate a link keeps before its replay starts: the first row's, or, when the trace opens with
        an outage, the first rate above 0 (a link that waits for its replay never sits in an outage)."""
        return next(p.mbit_per_s for p in self.points if p.mbit_per_s > 0)

    def in_outage(self, t: float) -> bool:
        return self.rate_at(t) <= 0

    def delay_at(self, t: float) -> float | None:
        return self.point_at(t).delay_ms

    def next_change(self, t: float) -> float:
        """The first time after ``t`` at which the trace may change (``inf`` when it never does)."""
        t = max(0.0, t)
        if self._looping():
            base = t - self._local(t)
            local = t - base
            index = bisect.bisect_right(self._times, local)
            return base + self._times[min(index, len(self._times) - 1)]
        index = bisect.bisect_right(self._times, t)
        return self._times[index] if index < len(self._times) else math.inf

    def finish_time(self, start: float, nbits: float) -> float:
        """When ``nbits`` that begin leaving at ``start`` have left, the rate following the trace.

        Outages carry nothing: a transfer waits through them. ``inf`` when the bits never leave (a held
        trace that ends in an outage) or would take more than the walk's bound of trace segments.
        """
        t = max(0.0, start)
        remaining = float(nbits)
        for _ in range(MAX_SEGMENTS_WALKED):
            rate = self.rate_at(t) * 1e6
            end = self.next_change(t)
            if rate > 0:
                capacity = rate * (end - t)
                if remaining <= capacity:
                    return t + remaining / rate
                remaining -= capacity
            if math.isinf(end):
                return math.inf
            t = end
        rate = self.rate_at(t) * 1e6
        return t + remaining / rate if rate > 0 else math.inf

    def describe(self) -> dict[str, object]:
        rates = [p.mbit_per_s for p in self.points]
        return {
            "name": self.name,
            "mode": self.mode,
            "period_s": self.period_s,
            "min_mbps": min(rates),
            "max_mbps": max(rates),
            "outage_rows": sum(1 for r in rates if r <= 0),
        }


def parse_trace(text: str, *, name: str = "trace", mode: TraceMode = "loop") -> Trace:
    """Parse CSV text; errors name the trace and the line."""
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip() for f in (reader.fieldnames or [])]
    for required in ("t_s", "mbit_per_s"):
        if required not in fields:
            raise ConfigError(f"trace {name!r}: header must name t_s and mbit_per_s (and optionally delay_ms)")
    unknown = sorted(set(fields) - {"t_s", "mbit_per_s", "delay_ms"})
    if unknown:
        raise ConfigError(f"trace {name!r}: unknown column(s) {', '.join(unknown)}")
    points = []
    for row in reader:
        line = reader.line_num
        values = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if not any(values.values()):
            continue
        try:
            t_s = float(values["t_s"])
            rate = float(values["mbit_per_s"])
            delay = float(values["delay_ms"]) if values.get("delay_ms") else None
        except ValueError:
            raise ConfigError(f"trace {name!r} line {line}: not a number in {values}") from None
        if not (math.isfinite(t_s) and t_s >= 0):
            raise ConfigError(f"trace {name!r} line {line}: t_s must be >= 0, got {values['t_s']}")
        if not (math.isfinite(rate) and rate >= 0):
            raise ConfigError(
                f"trace {name!r} line {line}: mbit_per_s must be >= 0 (0: an outage), got {values['mbit_per_s']}"
            )
        if delay is not None and not (math.isfinite(delay) and delay >= 0):
            raise ConfigError(f"trace {name!r} line {line}: delay_ms must be >= 0, got {values['delay_ms']}")
        points.append(TracePoint(t_s, rate, delay))
    return Trace(points, mode=mode, name=name)


def resolve_trace(ref: str, *, search: Path = TRACE_DIR) -> Path:
    """A trace name (``step-drop``: ``template/traces/step-drop.csv``) or a CSV file path."""
    ref = ref.strip()
    if not ref:
        raise ConfigError("a trace must be a name or a file path, got an empty string")
    path = Path(ref).expanduser()
    if path.suffix == ".csv" or "/" in ref:
        if path.is_file():
            return path.resolve()
        raise ConfigError(f"trace file {ref!r} does not exist")
    if not all(c.isalnum() or c in "-_." for c in ref):
        raise ConfigError(f"trace name {ref!r} may only hold letters, digits, '-', '_' and '.'")
    named = search / f"{ref}.csv"
    if named.is_file():
        return named.resolve()
    known = sorted(p.stem for p in search.glob("*.csv")) if search.is_dir() else []
    raise ConfigError(f"unknown trace {ref!r}; known: {', '.join(known) or 'none'} (or give a .csv file path)")


def load_trace(ref: str, *, mode: TraceMode = "loop", search: Path = TRACE_DIR) -> Trace:
    path = resolve_trace(ref, search=search)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read trace {path}: {exc}") from None
    return parse_trace(text, name=path.stem, mode=mode)


def known_traces(search: Path = TRACE_DIR) -> list[str]:
    return sorted(p.stem for p in search.glob("*.csv")) if search.is_dir() else []
