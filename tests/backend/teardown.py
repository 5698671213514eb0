"""The bounded teardown of a test that started a backend: steps run one after another, each bounded in time;
a step that fails is reported and the next one still runs, and the last ones end, by pid, whatever process
of the run directory is still alive, and say what they had to kill.

Used by :class:`tests.backend.conftest.RunningBackend` (a backend in the test's process) and by the whole
flow (``tests/backend/test_flow.py``, a backend started by ``dayu.sh``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import psutil

from tests import leftovers

RUNTIME_STOP_TIMEOUT_S = 10.0
"""Between SIGTERM and SIGKILL of what the run directory's pid files still name."""

Step = tuple[str, Callable[[], str | None]]
"""A step's name and the step: None when all went well, else what went wrong (or what it had to do)."""


class TeardownError(RuntimeError):
    """A test could not end everything it started cleanly; the message lists each step that failed."""


def run_steps(steps: Sequence[Step]) -> list[str]:
    """Run every step in order, whatever the previous ones did; ``name: problem`` for each that reported one
    or raised."""
    problems = []
    for name, step in steps:
        try:
            problem = step()
        except Exception as exc:  # reported; the next step still runs
            problem = repr(exc)
        if problem:
            problems.append(f"{name}: {problem}")
    return problems


def stop_runtime(runtime_dir: Path, *, should_be_stopped: bool) -> str | None:
    """Stop what the local runtime's pid files under ``runtime_dir`` still name (SIGTERM, SIGKILL after
    ``RUNTIME_STOP_TIMEOUT_S``); a problem when ``should_be_stopped`` and something still ran."""
    if not runtime_dir.is_dir():
        return None
    from backend.local_runtime.runtime import LocalRuntime

    outcome = LocalRuntime(runtime_dir).stop(timeout=RUNTIME_STOP_TIMEOUT_S)
    running = {name: how for name, how in outcome.items() if how != "not running"}
    if running and should_be_stopped:
        return f"still running after the stop, stopped now: {running}"
    return None


def kill_leftovers(run_dir: Path, *, known: Iterable[psutil.Process] = (), grace_s: float = 0.0) -> str | None:
    """Kill, by pid, any process of ``run_dir`` (see :mod:`tests.leftovers`) or among ``known`` (listed while
    their pid files still existed) still alive once ``grace_s`` has passed, and say which."""
    known = list(known)
    deadline = time.monotonic() + grace_s
    while True:
        left = _alive([*leftovers.processes_of(run_dir), *known])
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if not left:
        return None
    described = leftovers.describe(left)
    leftovers.kill(left)
    return f"{len(left)} process(es) of {run_dir} survived every step, killed now: {described}"


def _alive(procs: Iterable[psutil.Process]) -> list[psutil.Process]:
    out: dict[int, psutil.Process] = {}
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                out.setdefault(proc.pid, proc)
        except psutil.Error:
            continue
    return list(out.values())
