"""A deterministic model of one node under overload: sources that follow the controller's share, one stage.

The parts that decide are the real ones: the controller's :class:`Admission` and one :class:`SourceAdmission`
per source, both on the model's clock. What is modelled is what happens between them, with the calls the
real components make (``services/generator/pipeline.py``, ``services/controller/dispatcher.py`` and
``routes.py``, ``services/processor/queue.py``):

- a source starts a segment every ``period_s`` and asks ``shed_next()`` before its first frame; a segment it
  makes is submitted ``encode_s`` after its last frame, and the reply's share is what it ``heard()``;
- the controller takes a submission (``overloaded()`` and a drop at ``max_in_flight`` tasks in flight),
  answers with ``signal()``, then hands the task to the stage (``sent()``); a full queue refuses it
  (``refused()``, a ``queue_full`` drop); a task that comes back reports its wait in the queue (``waited()``);
- the stage is one worker serving a FIFO queue of ``queue_capacity`` tasks, each for ``service_s``.

Events at the same instant run in the order they were scheduled, so a run depends on its arguments alone.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from services.controller.admission import Admission, AdmissionConfig, pressure_key
from services.generator.admission import SourceAdmission

SERVICE = "face-detection"


@dataclass
class Outcome:
    """What a run did: counts over the whole run, and the stage's time over the measured part."""

    segments: int = 0
    shed: int = 0
    results: int = 0
    queue_full: int = 0
    overloaded: int = 0
    busy_s: float = 0.0
    measured_s: float = 0.0
    results_measured: int = 0
    shed_measured: int = 0
    segments_measured: int = 0
    most_waiting: int = 0
    refused_at: list[float] = field(default_factory=list)
    """When the stage refused a task (its queue was full)."""
    shed_by_reason: Counter[str] = field(default_factory=Counter)
    shares: list[float] = field(default_factory=list)
    """The controller's share at the end of each second."""

    @property
    def shed_share(self) -> float:
        """Of the segments started in the measured part, the share shed."""
        return self.shed_measured / self.segments_measured if self.segments_measured else 0.0

    @property
    def busy_share(self) -> float:
        return self.busy_s / self.measured_s if self.measured_s else 0.0

    @property
    def results_per_s(self) -> float:
        return self.results_measured / self.measured_s if self.measured_s else 0.0

    def summary(self) -> str:
        recovering = sum(n for key, n in self.shed_by_reason.items() if ":recovering" in key)
        return (
            f"shed {self.shed_share:.3f} busy {self.busy_share:.3f} results/s {self.results_per_s:.2f} "
            f"queue_full {self.queue_full} overloaded {self.overloaded} most waiting {self.most_waiting} "
            f"recovering {recovering}/{self.shed}"
        )


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run(
    *,
    sources: int = 12,
    period_s: float = 0.8,
    load: float,
    seconds: float = 300.0,
    warmup_s: float = 30.0,
    staggered: bool = False,
    encode_s: float = 0.05,
    queue_capacity: int = 32,
    max_in_flight: int = 256,
    admission: AdmissionConfig | None = None,
    phases: bool = True,
    seed: int = 7,
) -> Outcome:
    """Run ``seconds`` of ``sources`` sources against a stage whose capacity is ``1 / load`` of what they offer.

    ``staggered`` spreads the sources' first segments over one period (pseudo-random, from ``seed``); else they
    start together, as generators started at once on the same clip do. ``phases``: each source's admission
    is given its name, so its credit starts at a phase of its own
    (:func:`services.generator.admission.source_phase`); else all start at the same one, as the generator's
    pipeline builds them today. Counts start after ``warmup_s``."""
    clock = _Clock()
    controller = Admission(admission or AdmissionConfig(), "edge1", clock)
    service_s = load * period_s / sources
    rng = random.Random(seed)
    out = Outcome()
    events: list[tuple[float, int, Callable[[], None]]] = []
    order = 0

    def at(when: float, action: Callable[[], None]) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (when, order, action))

    waiting: deque[float] = deque()  # when each waiting task reached the stage
    busy = False
    in_flight = 0

    def measured(t: float) -> bool:
        return t >= warmup_s

    def start_next() -> None:
        nonlocal busy
        if busy or not waiting:
            return
        busy = True
        arrived = waiting.popleft()
        begun = clock.now
        at(begun + service_s, lambda: finish(begun - arrived, begun))

    def finish(wait: float, begun: float) -> None:
        nonlocal busy, in_flight
        busy = False
        in_flight -= 1
        out.results += 1
        if measured(clock.now):
            out.results_measured += 1
            out.busy_s += clock.now - max(begun, warmup_s)
        controller.waited(SERVICE, wait)
        start_next()

    def submit(source: SourceAdmission) -> None:
        nonlocal in_flight
        # routes.py: accept (the in-flight limit), then the reply's signal; the routing runs after.
        if in_flight >= max_in_flight:
            controller.overloaded()
            out.overloaded += 1
            source.heard(*controller.signal())
            return
        in_flight += 1
        source.heard(*controller.signal())
        controller.sent(SERVICE)
        if len(waiting) >= queue_capacity:
            controller.refused(SERVICE)
            out.queue_full += 1
            out.refused_at.append(clock.now)
            in_flight -= 1
            return
        waiting.append(clock.now)
        out.most_waiting = max(out.most_waiting, len(waiting))
        start_next()

    def segment(source: SourceAdmission, start: float) -> None:
        out.segments += 1
        if measured(start):
            out.segments_measured += 1
        why = source.shed_next()
        if why is None:
            at(start + period_s + encode_s, lambda: submit(source))
        else:
            out.shed += 1
            out.shed_by_reason[pressure_key(why)] += 1
            if measured(start):
                out.shed_measured += 1
        if start + period_s < seconds:
            at(start + period_s, lambda: segment(source, start + period_s))

    for i in range(sources):
        name = f"cam{i}"
        if phases:
            source = SourceAdmission(enabled=True, stale_after_s=5.0, clock=clock, source=name)
        else:
            source = SourceAdmission(enabled=True, stale_after_s=5.0, clock=clock)
        first = rng.uniform(0.0, period_s) if staggered else 0.0
        at(first, lambda s=source, t=first: segment(s, t))  # type: ignore[misc]
    for second in range(1, int(seconds) + 1):
        at(float(second), lambda: out.shares.append(controller.signal()[0]))

    while events:
        when, _, action = heapq.heappop(events)
        if when > seconds:
            break
        clock.now = when
        action()
    out.measured_s = seconds - warmup_s
    return out
