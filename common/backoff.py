"""The one backoff policy of bounded retries: a wait that doubles with each failure in a row, up to a bound.

Every retrying part (the inter-service client, the outbox's spool, the distributor's feedback, a live
capture's reconnects, the local runtime's restarts) waits ``base_s * 2**(n - 1)`` before its ``n``-th retry,
at most ``max_s``. Where many callers may fail at once (a peer that went away for all of them), the wait is
jittered, drawn between half of it and all of it, so their retries spread out instead of arriving together.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

_MAX_EXPONENT = 1023
"""``2.0 ** n`` overflows above this; a retry count that high is long past any bound anyway."""


@dataclass(frozen=True)
class Backoff:
    """Waits between retries: ``base_s`` before the first, doubling, never more than ``max_s``."""

    base_s: float
    max_s: float
    jitter: bool = False
    """Draw each wait in [wait / 2, wait] (``random`` unless the caller passes its own draw)."""

    def delay(self, failures: int, draw: Callable[[], float] = random.random) -> float:
        """The wait after ``failures`` failures in a row (1: before the first retry)."""
        exponent = min(max(0, failures - 1), _MAX_EXPONENT)
        wait = float(min(self.max_s, self.base_s * 2.0**exponent))
        return wait * (0.5 + draw() / 2) if self.jitter else wait
