"""Admission at the source: how much of their video the sources of this node should turn into tasks now.

Past its capacity a node used to lose segments at the stage's queue (``queue_full``) after its generators had
spent their CPU encoding them, and on a small node that CPU was taken from the stage itself. Instead the
controller tells its generators, in its reply to every ``POST /tasks`` (``TaskAccepted.admit``), the share
of their segments to make; a generator skips the rest **before** encoding them, each with a drop record
``shed`` (``services/generator/admission.py``).

The share follows the node's congestion, interval by interval (``interval_s``), and is cut once per
congested interval, as TCP's congestion window is:

- a local stage refused tasks (``queue_full``): it took ``served / (served + refused)`` of what reached it,
  so the share becomes that fraction (times ``margin``, to drain its queue) of the share the sources were
  following (the higher of the last two: a source hears the share only with its next reply, so the
  refused tasks may have been made under the earlier one, and cutting from the lower would cut twice);
- the controller itself was at its in-flight limit (``overloaded``): the share is halved;
- the median wait in a local processor's queue of the tasks that came back in the interval exceeded
  ``queue_target_s``, before the queue is full: a stage with a long queue was busy, so what it served is
  its capacity, and the share becomes an estimate of what it can take (times ``margin``, to drain the
  queue): what it served over the last ``window_s`` over what its sources would have sent at share 1 (what
  was sent, interval by interval, over the share it was made under). Counted over one interval, sources
  whose segments alias with it swing what was sent, and when every source sheds the same segment an
  interval holds nothing; a window of several segment periods holds them evenly. The share only falls on
  this cut, so while the queue, which lags the share by its own length, drains it holds (``decrease`` is
  kept for a window with waits but nothing sent);
- after an interval with none of these (or an idle one) it grows back: half the way to the last cut's
  estimate, at least ``increase``, then by ``increase`` over it unless the queue is filling (a median wait
  over half the target), up to 1; it never falls under ``min_admit``, so sources keep probing.

A stage's queue of a few seconds absorbs the swings, so the stage stays busy while the sources follow.
The share another node's controller sent back (to this controller's uploads) counts too for
``remote_ttl_s``: a source is told the lowest share along its tasks' way, and why.

Every reason starts with stable codes and the node they are about, ``[queue_wait] node 'edge1': ...`` (a
:class:`Pressure` each, joined by ``+``), and the rest is for people. A source copies the reason into the
drop record of every segment it sheds, so the records can be counted by cause (:func:`pressure_key`): a cut
in the interval just ended, or ``recovering`` (the share grows back from an earlier cut, whose codes follow),
on this node or on another one whose share was heard.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class AdmissionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Off: every reply admits all segments (admit 1).")
    interval_s: float = Field(1.0, gt=0, le=60, description="How often the share is adjusted.")
    queue_target_s: float = Field(
        1.0, gt=0, le=600, description="Median wait in a local processor's queue above which an interval is congested."
    )
    decrease: float = Field(
        0.85, gt=0, lt=1, description="Factor applied to the share after an interval with a long queue wait."
    )
    margin: float = Field(
        0.9, gt=0, le=1, description="The share after refusals: the fraction the stage took, times this."
    )
    increase: float = Field(
        0.05, gt=0, le=1, description="The least the share grows by after an interval without congestion."
    )
    window_s: float = Field(
        4.0,
        gt=0,
        le=600,
        description="What a local stage served over what it was sent is counted over this long (whole intervals).",
    )
    min_admit: float = Field(0.05, gt=0, le=1, description="The share never falls below this.")
    remote_ttl_s: float = Field(5.0, gt=0, le=600, description="How long another node's share counts here.")


class Pressure(StrEnum):
    """Why a node's share is under 1: the stable codes that open every reason."""

    QUEUE_FULL = "queue_full"
    """A local stage refused tasks: its queue was full."""
    IN_FLIGHT = "in_flight"
    """This controller refused tasks: it had ``max_in_flight`` of them."""
    QUEUE_WAIT = "queue_wait"
    """The median wait in a local stage's queue was over ``queue_target_s``."""
    RECOVERING = "recovering"
    """No congestion in the interval just ended: the share grows back from the cut whose codes follow."""


MAX_REASON = 500
"""The longest reason a reply carries (``TaskAccepted.pressure``)."""
_REASON = re.compile(r"\[(?P<codes>[a-z_]+(?:\+[a-z_]+)*)\] node '(?P<node>[^']*)'")


def pressure_key(text: str) -> str:
    """The short, stable key of the first reason in ``text`` (a reply's ``pressure`` or a shed record's
    message): ``<node>:<code>+<code>``, e.g. ``edge1:recovering+queue_wait``; ``unstated`` without one."""
    match = _REASON.search(text)
    return f"{match['node']}:{match['codes']}" if match else "unstated"


def _reason(node: str, codes: list[Pressure], detail: str) -> str:
    return f"[{'+'.join(codes)}] node {node!r}: {detail}"[:MAX_REASON]


@dataclass
class _Counted:
    """What one ended interval holds for the capacity estimate."""

    sent: Counter[str]
    served: Counter[str]
    share: float
    """The share the tasks sent in it were made under (see :meth:`Admission._roll`)."""


@dataclass
class _Interval:
    refused: Counter[str] = field(default_factory=Counter)
    """service -> tasks a local stage of it refused"""
    served: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    """service -> tasks handed to a local stage of it"""
    overloaded: int = 0
    waits: list[float] = field(default_factory=list)


class Admission:
    """The share of segments this node admits; the clock is injected so tests decide when intervals end."""

    def __init__(self, config: AdmissionConfig, node: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.node = node
        self.clock = clock
        self.local = 1.0
        self.before = 1.0
        """The share of the interval before the current one."""
        self.local_reason = ""
        self._cut: tuple[list[Pressure], str] = ([], "")
        """The codes and detail of the last cut, for the reason while the share grows back."""
        self.congested_intervals = 0
        self.estimate: float | None = None
        """The share the stages could take at the last cut, before ``margin`` (None: no estimate)."""
        self._window: deque[_Counted] = deque(maxlen=max(1, math.ceil(config.window_s / config.interval_s - 1e-9)))
        self._now = _Interval()
        self._shares: deque[float] = deque([1.0] * 3, maxlen=3)
        """The shares in force in the three intervals before the current one."""
        self._ends = clock() + config.interval_s
        self._remote: dict[str, tuple[float, str, float]] = {}
        """node -> (share, reason, when heard)"""

    # -- what happens on this node --------------------------------------------------------------------
    def sent(self, service: str) -> None:
        """A task was handed to a local stage of ``service``."""
        self._roll()
        self._now.sent[service] += 1

    def refused(self, service: str) -> None:
        """A local stage of ``service`` refused a task: its queue was full."""
        self._roll()
        self._now.refused[service] += 1

    def overloaded(self) -> None:
        """This controller refused a task: it had ``max_in_flight`` tasks."""
        self._roll()
        self._now.overloaded += 1

    def waited(self, service: str, seconds: float) -> None:
        """A task came back from a local stage of ``service`` after waiting ``seconds`` in its queue."""
        self._roll()
        self._now.served[service] += 1
        self._now.waits.append(seconds)

    def heard(self, node: str, admit: float, reason: str) -> None:
        """The share another node's controller sent back to an upload from here."""
        if node != self.node:
            self._remote[node] = (admit, reason, self.clock())

    # -- the signal -----------------------------------------------------------------------------------
    def signal(self) -> tuple[float, str]:
        """The share to tell a source now and why it is under 1 (empty when it is 1)."""
        if not self.config.enabled:
            return 1.0, ""
        self._roll()
        admit, reason = self.local, self.local_reason
        now = self.clock()
        for node, (share, why, at) in list(self._remote.items()):
            if now - at > self.config.remote_ttl_s:
                del self._remote[node]
            elif share < admit:
                admit, reason = share, why
        return round(admit, 4), (reason[:MAX_REASON] if admit < 1.0 else "")

    def _roll(self) -> None:
        now = self.clock()
        if now < self._ends:
            return
        c = self.config
        ended = int((now - self._ends) // c.interval_s) + 1  # the current one and any idle ones after it
        # A task reaches a stage a segment's length (and its encoding) after its source decided to make it,
        # under the share it heard with its previous reply: one to three intervals before the one it was sent
        # in, as segments last. The highest of those is taken: a share counted too low makes the estimate too
        # low and cuts past capacity, while one counted too high only holds the share a little longer.
        self._window.append(_Counted(self._now.sent, self._now.served, max(self._shares)))
        for _ in range(min(ended - 1, self._window.maxlen or 1)):
            self._window.append(_Counted(Counter(), Counter(), self.local))
        quiet = ended
        share, estimate, codes, detail = self._congestion(self._now)
        self.before = self.local
        self._shares.append(self.local)
        if codes:
            self.congested_intervals += 1
            if share < self.local:
                self.estimate = estimate
            self.local = max(c.min_admit, min(self.local, share))
            self._cut = (codes, detail)
            self.local_reason = _reason(self.node, codes, detail)
            quiet -= 1
        elif self._now.waits and statistics.median(self._now.waits) > c.queue_target_s / 2:
            quiet -= 1
            self.local = min(1.0, self.local + self._growth(filling=True))
        for _ in range(min(quiet, math.ceil(1 / c.increase))):
            self.local = min(1.0, self.local + self._growth(filling=False))
        if self.local >= 1.0:
            self.local_reason = ""
        elif not codes:
            cut_codes, cut_detail = self._cut
            self.local_reason = _reason(
                self.node, [Pressure.RECOVERING, *cut_codes], f"growing back after a cut for: {cut_detail}"
            )
        self._now = _Interval()
        self._ends += ended * c.interval_s

    def _growth(self, *, filling: bool) -> float:
        """How much the share grows after an interval without congestion (``filling``: whose median wait was
        over half the target).

        Under the last estimate of what the stages take, half the way back to it, at least ``increase``: a cut
        lands ``margin`` under the estimate so that the queue drains, and a fixed step of ``increase`` took ten
        intervals or more to climb back from a cut far under it, each shedding segments the stage could have
        taken. Over the estimate the share probes by ``increase``, and not while the queue is filling: growth
        then overshoots by all that was added before the wait crossed the target (a queue lags the share by its
        own length), and at twice a stage's capacity its queue overflowed. Faster probing (doubling the step)
        overshot the same way in the closed-loop model (``tests/services/controller/admission_model.py``)."""
        c = self.config
        if self.estimate is not None and self.local < self.estimate:
            return max(c.increase, (self.estimate - self.local) / 2)
        return 0.0 if filling else c.increase

    def _congestion(self, interval: _Interval) -> tuple[float, float | None, list[Pressure], str]:
        """The share to cut to, the estimate of what the stages take (before ``margin``; None when nothing says),
        the codes of why and the detail (share 1, no codes: not congested)."""
        c = self.config
        following = max(self.local, self.before)
        share, estimate, codes, parts = 1.0, None, [], []

        def lower(to: float, took: float | None) -> None:
            nonlocal share, estimate
            share = min(share, to)
            if took is not None:
                estimate = took if estimate is None else min(estimate, took)

        for service, refused in interval.refused.items():
            served = interval.served[service]
            took = following * served / (served + refused)
            lower(c.margin * took, took)
            parts.append(f"stage {service!r} took {served} and refused {refused} task(s): its queue was full")
        if interval.refused:
            codes.append(Pressure.QUEUE_FULL)
        if interval.overloaded:
            lower(following * 0.5, None)
            codes.append(Pressure.IN_FLIGHT)
            parts.append(f"{interval.overloaded} task(s) over the controller's in-flight limit")
        if interval.waits:
            median = statistics.median(interval.waits)
            if median > c.queue_target_s:
                capacity = self._capacity_share()
                if capacity is None:
                    lower(following * c.decrease, None)
                else:  # a stage serving more than it is sent drains its queue: the share then holds
                    lower(c.margin * capacity, min(1.0, capacity))
                codes.append(Pressure.QUEUE_WAIT)
                parts.append(f"median stage queue wait {median:.2f}s over {c.queue_target_s:g}s")
        return share, estimate, codes, "; ".join(parts)

    def _capacity_share(self) -> float | None:
        """The share the stages can take, from an interval with a long queue: over the window, what each stage
        served (its capacity, as its queue was long) over what its sources would have sent at share 1 (what
        was sent over the share it was made under); the lowest of the stages, over 1 when they serve more than
        they are sent. None when nothing was sent.

        Counted interval by interval, a source's segment period aliases with the interval: with segments of
        0.8 s an interval of 1 s holds one or two of each source's, so what was sent swung by two while what
        was served stayed even, and the ratio cut far past capacity. A window of several periods holds them
        evenly. Dividing by the share each interval's tasks were made under gives the same estimate whichever
        share was in force, so an interval whose queue is still long from before a cut (the queue lags the
        share by its own length) does not cut again: the share holds while the queue drains."""
        sent: Counter[str] = Counter()
        served: Counter[str] = Counter()
        for counted in self._window:
            sent.update(counted.sent)
            served.update(counted.served)
        mean_share = sum(counted.share for counted in self._window) / len(self._window)
        ratios = [served[s] / n for s, n in sent.items() if n > 0]
        if not ratios:
            return None
        return mean_share * min(ratios)
