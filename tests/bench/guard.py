"""Whatever the bench starts stops with it: a normal end, an error, SIGTERM, SIGHUP or Ctrl-C.

The local runtime starts each component in a process group of its own (so a component's children stop
with it), which also means a signal sent to the bench's group never reaches them. :func:`install` turns
SIGTERM and SIGHUP into ``SystemExit`` (Ctrl-C already raises ``KeyboardInterrupt``) so every ``finally``
runs, and registers :func:`cleanup` with ``atexit``. :func:`cleanup` stops the tracked runtimes through
their pid files, then sends SIGTERM and, after a grace period, SIGKILL to the process group of every
descendant of the bench that is still alive, which also covers a process started a moment before its pid
file was written. Only SIGKILL of the bench itself escapes this (nothing can catch it).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

import psutil

if TYPE_CHECKING:  # the application child imports this module too: it stays light
    from backend.local_runtime.runtime import LocalRuntime

_runtimes: list[LocalRuntime] = []
_installed = False
_cleaning = False


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if _cleaning:
        return  # a second signal while stopping: let the stop finish
    raise SystemExit(128 + signum)


def install() -> None:
    """Route SIGTERM/SIGHUP to ``SystemExit`` and stop everything at exit. Idempotent."""
    global _installed
    if _installed:
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    atexit.register(cleanup)
    _installed = True


@contextlib.contextmanager
def runtime(rt: LocalRuntime) -> Iterator[LocalRuntime]:
    """Track ``rt`` while the block runs and stop it when the block ends, however it ends."""
    _runtimes.append(rt)
    try:
        yield rt
    finally:
        try:
            rt.stop(timeout=10)
        finally:
            with contextlib.suppress(ValueError):
                _runtimes.remove(rt)


def popen(command: Sequence[str], **kwargs: Any) -> subprocess.Popen[str]:
    """A child in its own process group, so :func:`cleanup` can stop it and everything it starts."""
    return subprocess.Popen(list(command), start_new_session=True, text=True, **kwargs)


def run(command: Sequence[str], *, timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``subprocess.run`` for a child in its own group; the group is killed on a timeout or an interrupt."""
    proc = popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        _stop_groups([proc.pid], grace=2.0)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def descendants() -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return psutil.Process().children(recursive=True)
    return []


def _stop_groups(pids: Sequence[int], *, grace: float) -> None:
    own = os.getpgrp()
    groups = set()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            groups.add(os.getpgid(pid))
    groups.discard(own)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, sig)
        for pid in pids:  # members of our own group are signalled one by one
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if os.getpgid(pid) == own:
                    os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.05)
            _reap()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def cleanup() -> None:
    """Stop every tracked runtime, then every descendant still alive (by process group)."""
    global _cleaning
    _cleaning = True
    try:
        for rt in list(_runtimes):
            with contextlib.suppress(Exception):
                rt.stop(timeout=5)
        _runtimes.clear()
        left = [p.pid for p in descendants()]
        if left:
            _stop_groups(left, grace=3.0)
        _reap()
    finally:
        _cleaning = False
