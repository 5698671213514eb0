"""An interrupted benchmark ends what it started: SIGINT or SIGTERM, at any phase, within a bounded time.

The local runtime starts each component as the leader of its own process group, so a signal sent to the
benchmark's group (Ctrl-C in a terminal) never reaches them, and Python's default SIGTERM ends the
interpreter without running a single ``finally``: an interrupted run once left its deployment running
for hours. :func:`guarded` turns the first SIGINT or SIGTERM into :class:`Interrupted`, raised in the
main thread wherever it is (the golden labelling, a policy's install or window, between runs), so the
runner's own ``finally`` stops its runtime; a later signal is ignored, so it cannot cut that stop short.
Then :func:`sweep` stops what the run directory's pid files still name and ends every child process group
left (a component launched a moment before its pid file was written), each step bounded and reported,
and the command exits ``128 + signal`` saying it was interrupted. Only SIGKILL escapes this.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import psutil

SIGNALS = (signal.SIGINT, signal.SIGTERM)
RUNTIME_STOP_TIMEOUT_S = 10.0
"""Between SIGTERM and SIGKILL of what the run directory's pid files name."""
CHILDREN_GRACE_S = 5.0
"""Between SIGTERM and SIGKILL of a child process group left after the runtime's stop."""


class Interrupted(BaseException):
    """The benchmark got SIGINT or SIGTERM. A ``BaseException``, like ``KeyboardInterrupt``: an
    ``except Exception`` on its way out does not swallow it."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@contextlib.contextmanager
def _handlers(said: Callable[[str], None]) -> Iterator[None]:
    raised = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal raised
        if raised:
            said(f"got {signal.Signals(signum).name} again: still stopping what the run started")
            return
        raised = True
        raise Interrupted(signum)

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread gets signals (and may set their handlers): the caller's own apply
        return
    previous = {sig: signal.signal(sig, on_signal) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _say(message: str) -> None:
    print(f"bench-policies: {message}", file=sys.stderr, flush=True)


def guarded(work: Callable[[], object], run_dir: Path, *, say: Callable[[str], None] = _say) -> int:
    """Run ``work``; on SIGINT or SIGTERM stop everything it started and return ``128 + signal``, else 0.

    ``run_dir`` is where its runs deploy (the local runtime's directory). Called from another thread than
    the main one, it only runs ``work``: signals go to the main thread, whose own handlers apply."""
    with _handlers(say):  # still in place during the sweep: a second signal does not cut it short
        try:
            work()
        except Interrupted as exc:
            say(f"{exc}: stopping what the run started")
            for line in sweep(run_dir):
                say(line)
            say(f"{exc}; nothing of the run is left running (exit status {exc.exit_code})")
            return exc.exit_code
    return 0


def sweep(run_dir: Path) -> list[str]:
    """Stop the runtime in ``run_dir`` through its pid files, then every child process group still alive.

    Each step is bounded; one that fails is reported and the next still runs. Returns what each step did."""
    lines = []
    steps: list[tuple[str, Callable[[], str | None]]] = [
        ("runtime", lambda: _stop_runtime(run_dir)),
        ("children", _stop_children),
    ]
    for name, step in steps:
        try:
            done = step()
        except Exception as exc:  # reported; the next step still runs
            done = f"failed: {exc!r}"
        if done:
            lines.append(f"{name}: {done}")
    return lines


def _stop_runtime(run_dir: Path) -> str | None:
    if not run_dir.is_dir():
        return None
    from backend.local_runtime.runtime import LocalRuntime

    outcome = LocalRuntime(run_dir).stop(timeout=RUNTIME_STOP_TIMEOUT_S)
    ended = {name: how for name, how in outcome.items() if how != "not running"}
    return f"stopped {', '.join(f'{n} ({h})' for n, h in sorted(ended.items()))}" if ended else None


def _stop_children() -> str | None:
    """SIGTERM, then SIGKILL after a grace period, to the group of every descendant still alive (ours by
    pid only: a member of our own group, such as a ``git`` the provenance runs)."""
    left = [p for p in _descendants() if _alive(p)]
    if not left:
        return None
    own = os.getpgrp()
    groups: set[int] = set()
    for proc in left:
        with contextlib.suppress(OSError):
            groups.add(os.getpgid(proc.pid))
    groups.discard(own)
    names = ", ".join(f"{p.pid}" for p in left)
    killed = False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, sig)
        for proc in left:
            with contextlib.suppress(psutil.Error, OSError):
                if os.getpgid(proc.pid) == own:
                    proc.send_signal(sig)
        killed = sig == signal.SIGKILL
        _, alive = psutil.wait_procs(left, timeout=CHILDREN_GRACE_S)
        if not alive:
            break
    _reap()
    return f"ended process(es) {names} left after the runtime's stop" + (" (SIGKILL)" if killed else "")


def _descendants() -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return psutil.Process().children(recursive=True)
    return []


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        deadline = time.monotonic() + 2.0
        while os.waitpid(-1, os.WNOHANG)[0] and time.monotonic() < deadline:
            pass
