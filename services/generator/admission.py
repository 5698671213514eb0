"""Which segments a source makes when its node cannot take them all: the controller's share, as credit.

The node's controller answers every task submission with ``admit``, the share of segments its sources
should make now, and why it is under 1 (``services/controller/admission.py``). Each segment the source
could start adds ``admit`` to a credit; the segment is made when the credit reaches 1, and otherwise shed:
its frames are taken at the source's pace without their image where the source allows
(``FrameSource.skip``), neither filtered, resized nor encoded, and it ends as a drop record ``shed``.
Credit makes the shed segments even (every other one at 0.5), never a burst.

A source shedding most of its segments submits, and so hears from its controller, rarely; a share heard
longer than ``stale_after_s`` ago no longer counts, and the next segment is made, which brings a fresh one.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class SourceAdmission:
    def __init__(self, *, enabled: bool, stale_after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled
        self.stale_after_s = stale_after_s
        self.clock = clock
        self.admit = 1.0
        self.reason = ""
        self.heard_at: float | None = None
        self.signals = 0
        self._credit = 0.0

    def heard(self, admit: float, reason: str) -> None:
        """The share the controller sent back with a task it took."""
        self.admit = min(1.0, max(0.0, admit))
        self.reason = reason
        self.heard_at = self.clock()
        self.signals += 1

    def current(self) -> float:
        """The share in force: 1 when following is off or the last one heard is stale."""
        if not self.enabled or self.heard_at is None or self.clock() - self.heard_at > self.stale_after_s:
            return 1.0
        return self.admit

    def shed_next(self) -> str | None:
        """Called once per segment before its first frame: None to make it, else why it is shed."""
        admit = self.current()
        self._credit = min(1.0, self._credit + admit)
        if self._credit >= 1.0 - 1e-9:
            self._credit -= 1.0
            return None
        return f"the node admits {admit:.2f} of the segments: {self.reason or 'its controller asked for less'}"
