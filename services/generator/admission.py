"""Which segments a source makes when its node cannot take them all: the controller's share, as credit.

The node's controller answers every task submission with ``admit``, the share of segments its sources
should make now, and why it is under 1 (``services/controller/admission.py``). Each segment the source
could start adds ``admit`` to a credit; the segment is made when the credit reaches 1 (and takes 1 from it),
and otherwise shed: its frames are taken at the source's pace without their image where the source allows
(``FrameSource.skip``), neither filtered, resized nor encoded, and it ends as a drop record ``shed``.
Credit makes the shed segments even (every other one at 0.5, one in ten at 0.9), never a burst, and the
segments made are the share of those started, to one segment. Each source's credit starts at a phase of its
own (:func:`source_phase`), so the sources of a node do not all shed the same segment.

A source shedding most of its segments submits, and so hears from its controller, rarely; a share heard
longer than ``stale_after_s`` ago no longer counts, and the next segment is made, which brings a fresh one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

UNNAMED_PHASE = 0.5 - 1e-6
"""Where the credit of a source without a name starts: half a segment, so that the segments it made are always
the share of those it started rounded to the nearest (from 0, it would shed up to one segment early); just
under half, so that at a share of exactly 0.5 it begins by shedding, easing the node first."""


def source_phase(source: str) -> float:
    """Where in [0, 1) the credit of the source named ``source`` starts (:data:`UNNAMED_PHASE` for no name).

    Sources that follow the same share from the same credit shed the same segments: generators started
    together on the same clip then send nothing for a whole segment period and twice as much in the next, a
    stage with a short queue runs dry in the gap, and a controller counting what was sent sees an interval
    with nothing. A phase from the name (stable across processes, unlike ``hash``) spreads the shed segments
    over the period, and the same source sheds the same segments in every run."""
    if not source:
        return UNNAMED_PHASE
    digest = hashlib.sha256(source.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class SourceAdmission:
    def __init__(
        self,
        *,
        enabled: bool,
        stale_after_s: float,
        clock: Callable[[], float] = time.monotonic,
        source: str = "",
    ) -> None:
        self.enabled = enabled
        self.stale_after_s = stale_after_s
        self.clock = clock
        self.source = source
        self.admit = 1.0
        self.reason = ""
        self.heard_at: float | None = None
        self.signals = 0
        self._credit = source_phase(source)
        """In [0, 1): what the shares of the segments so far add up to, less one per segment made."""

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
        # The credit is never capped: capped at 1, a segment made left none, so at any share from 0.5 to
        # under 1 the next segment was shed (every other one: half the segments where 0.9 asked for a tenth).
        # Carried over, the segments made are the share of those started, to one segment, and the share 1
        # keeps the phase.
        self._credit += admit
        if self._credit >= 1.0 - 1e-9:
            self._credit = max(0.0, self._credit - 1.0)
            return None
        return f"the node admits {admit:.2f} of the segments: {self.reason or 'its controller asked for less'}"
