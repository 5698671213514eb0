"""The one loop of background work that runs every few seconds for a component's life.

Each round may be skipped (the component is busy, or there is nothing to look at); a round that fails is
logged and the next one runs, so one bad round (a peer restarting, a timeout) never ends the loop. Only the
errors the caller names are taken that way: anything else is a bug and ends the loop where it shows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Failures:
    """Which errors a failed round may raise without ending the loop, and how they are logged."""

    errors: tuple[type[BaseException], ...] = (Exception,)
    level: int = logging.WARNING
    traceback: bool = False
    """``True``: logged with the traceback (an unexpected failure); ``False``: one line with the error."""


ONE_LINE = Failures()
"""Any error, one warning line: a failed round that is expected now and then."""
LOGGED_WITH_TRACEBACK = Failures(level=logging.ERROR, traceback=True)
"""Any error, as ``log.exception`` logs it: a round that should not fail."""


async def every(
    interval: float,
    action: Callable[[], Awaitable[object]],
    *,
    what: str,
    log: logging.Logger,
    skip: Callable[[], bool] | None = None,
    failures: Failures = ONE_LINE,
    first_now: bool = False,
    start_to_start: bool = False,
    wait: Callable[[float], Awaitable[object]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Run ``action`` every ``interval`` seconds until cancelled.

    The first round runs after one interval, or at once with ``first_now``. A round is skipped while
    ``skip()`` is true. ``interval`` is the rest after a round ends, or with ``start_to_start`` the time from
    one round's start to the next (a round longer than that is followed at once), for a cadence that reports
    keep whatever a round costs. A failure named in ``failures`` is logged as ``"<what> failed"`` on ``log``
    (the caller's logger, so the line keeps its origin). ``wait`` and ``clock`` are the pause and the time
    the loop runs on: tests pass their own."""
    if not first_now:
        await wait(interval)
    while True:
        started = clock()
        if skip is None or not skip():
            try:
                await action()
            except failures.errors as exc:
                if failures.traceback:
                    log.log(failures.level, "%s failed", what, exc_info=True)
                else:
                    log.log(failures.level, "%s failed: %s", what, exc)
        await wait(max(0.0, interval - (clock() - started)) if start_to_start else interval)
