"""``python -m common.tracegen [DIR]``: write the traces shipped in ``template/traces/``.

Every trace is generated here, the random one from a fixed seed, so ``make traces`` rewrites the same
files byte for byte. Durations suit a policy benchmark of 60-180 s: each trace changes within its first
minute and repeats (loop mode) for longer runs.
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Iterable
from pathlib import Path

from common.trace import TRACE_DIR

RANDOM_WALK_SEED = 20261203

Row = tuple[float, float, float | None]


def constant() -> list[Row]:
    """20 Mbit/s for ever."""
    return [(0, 20, None)]


def step_drop() -> list[Row]:
    """20 Mbit/s for 20 s, 2 Mbit/s (and a longer delay) for 30 s, 20 Mbit/s again; 80 s per pass."""
    return [(0, 20, 5), (20, 2, 40), (50, 20, 5), (80, 20, 5)]


def periodic(period_s: float = 40, step_s: float = 2, low: float = 4, high: float = 24) -> list[Row]:
    """A sine between ``low`` and ``high`` Mbit/s, one period every ``period_s``, in ``step_s`` steps."""
    mid, amp = (high + low) / 2, (high - low) / 2
    steps = int(period_s / step_s)
    rows: list[Row] = [
        (i * step_s, round(mid + amp * math.sin(2 * math.pi * i / steps), 2), None) for i in range(steps)
    ]
    rows.append((period_s, rows[0][1], None))
    return rows


def random_walk(
    seed: int = RANDOM_WALK_SEED, duration_s: float = 180, step_s: float = 2, low: float = 1, high: float = 30
) -> list[Row]:
    """A multiplicative random walk (steps of up to +-30 %) between ``low`` and ``high`` Mbit/s."""
    rng = random.Random(seed)
    rate = 15.0
    rows: list[Row] = []
    for i in range(int(duration_s / step_s)):
        rows.append((i * step_s, round(rate, 2), None))
        rate = min(high, max(low, rate * math.exp(rng.uniform(-0.3, 0.3))))
    rows.append((duration_s, rows[0][1], None))
    return rows


TRACES = {"constant": constant, "step-drop": step_drop, "periodic": periodic, "random-walk": random_walk}


def render(rows: Iterable[Row]) -> str:
    rows = list(rows)
    with_delay = any(delay is not None for _, _, delay in rows)
    lines = ["t_s,mbit_per_s,delay_ms" if with_delay else "t_s,mbit_per_s"]
    for t, rate, delay in rows:
        cells = [f"{t:g}", f"{rate:g}"] + ([f"{delay:g}" if delay is not None else ""] if with_delay else [])
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def write_all(directory: Path = TRACE_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in TRACES.items():
        path = directory / f"{name}.csv"
        path.write_text(render(make()))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.tracegen", description=__doc__)
    parser.add_argument("directory", nargs="?", type=Path, default=TRACE_DIR)
    args = parser.parse_args(argv)
    for path in write_all(args.directory):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
