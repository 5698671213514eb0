"""``awstream``: "AWStream: Adaptive Wide-Area Streaming Analytics" (Zhang et al., SIGCOMM 2018).

**Profile.** Every configuration of the knobs in use (resolution, fps and, with h264, qp) is scored by the
cloud processor's golden labeller: a profiling decision serves one segment at the golden configuration
(the richest rungs), every stage on the cloud, listing up to ``batch`` candidates under
``meta.extra["label"]``; the labeller derives each from that segment, scores its F1 against the golden
model and reports the bytes it would have sent (``TaskFeedback.labels``). A full profile lists the whole
grid over as many golden segments as it needs. With ``profile`` the agent starts from an offline profile
(the labeller's reports on a training clip) instead; online, every ``online_every_s`` the Pareto set is
labelled again on a live segment, and every ``full_every_s`` the whole grid, so the set follows the
content. The Pareto set (:mod:`services.scheduler.pareto`) is ordered by bit rate. No ground truth is
read anywhere.

**Run time** is AWStream's state machine over the Pareto set. Every stage runs on the cloud (the edge
streams the video, as in the paper), so every segment crosses the link, and its time there (the stage's
``transmit``, which includes the wait in the link's queue) feeds the machine:

- *startup*: no profile yet: the startup knobs; with one, the most accurate member that fits the measured
  bandwidth (the monitor's, else what the segments measured), then *steady*.
- *steady*: keep the configuration. Congestion (the last ``window`` segments each took longer on the link
  than the one before and the last longer than the interval between segments: the queue grows; or their
  delivered rate, bits over link time, below the rate they were sent at) moves to *degrade*. With the
  queue drained (a segment crossed in under ``drained_ratio`` of the interval) for ``probe_every_s``, and
  the next member fitting the link the segments measured, it moves to *probe*.
- *degrade*: the most accurate member that fits the delivered rate (always a cheaper one); again if the
  queue still grows; back to *steady* once it has drained (or nothing came back for
  ``feedback_timeout_s``).
- *probe*: the next member up; after ``probe_segments`` of its segments crossed without congestion it is
  kept (*steady*), else (congestion, or not all came back within ``feedback_timeout_s``) the agent goes back.

A segment of the served configuration dropped for load (queue full, overloaded, shed, timeout,
unreachable) counts as congestion, like a growing queue.

A configuration fits a bandwidth when its segments' mean time on the link, as an M/D/1 queue (the
estimate ``offline-profiling`` uses), is at most ``max_link_s``. Once a profile is known, golden segments
are sent only in *steady* with the queue drained (they would add to the congestion being measured), and
the served segments that queued behind one are not read as congestion.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from common.feedback import DropFeedback, TaskFeedback
from common.golden import LABEL_KEY, MAX_CANDIDATES, Knobs
from common.plan import Plan, PlanRequest
from common.records import DropReason
from common.registry import HookConfig, hook
from common.task import Meta
from services.scheduler.agent import (
    FAMILY,
    Agent,
    AgentConfig,
    AgentContext,
    link_mbps,
    place,
    service_stages,
)
from services.scheduler.agents.offline_profiling import link_sojourn_s
from services.scheduler.knobs import Ladders
from services.scheduler.pareto import Key, Point, Profile, load_reports

State = Literal["startup", "steady", "degrade", "probe"]
KnobName = Literal["resolution", "fps", "qp"]
DEFAULT_KNOBS: tuple[KnobName, ...] = ("resolution", "fps")
LOAD_DROPS = frozenset(
    {DropReason.QUEUE_FULL, DropReason.OVERLOADED, DropReason.SHED, DropReason.TIMEOUT, DropReason.NODE_UNREACHABLE}
)
"""Drops that say the segments are more than the path carries (not errors of one segment)."""
LINK_FLOOR_S = 1e-4
"""Least time on the link a segment is taken to have spent (an unshaped LAN may report none)."""


class AwstreamConfig(AgentConfig):
    knobs: list[KnobName] = Field(
        default_factory=lambda: list(DEFAULT_KNOBS),
        min_length=1,
        description="Knobs the configurations vary (qp implies h264); the others stay at the startup plan's.",
    )
    ladders: Ladders = Field(default_factory=Ladders, description="Values the knobs may take, cheapest first.")
    profile: str | None = Field(
        None,
        description="Offline profile: a JSON list of the golden labeller's reports on a training clip; "
        "none: the first full profile is made online.",
    )
    full_every_s: float | None = Field(
        300.0, gt=0, description="Seconds between full online profiles of the grid; none: only while none is known."
    )
    online_every_s: float | None = Field(
        30.0, gt=0, description="Seconds between golden-labelled re-measurements of the Pareto set; none: never."
    )
    batch: int = Field(
        16, ge=1, le=MAX_CANDIDATES, description="Candidates on one golden segment (keep within the labeller's)."
    )
    golden_frames: int = Field(
        30, ge=1, le=1000, description="Frames of a golden segment (long enough for the low fps rungs to keep some)."
    )
    alpha: float = Field(0.5, gt=0, le=1, description="Weight of a newly labelled segment in the profile's means.")
    label_timeout_s: float = Field(
        20.0, gt=0, description="Stop waiting for a golden segment's labels this long after asking."
    )
    max_link_s: float = Field(
        1.0, gt=0, description="Mean seconds a segment may spend on the link (M/D/1) for its configuration to fit."
    )
    window: int = Field(3, ge=2, le=32, description="Latest segments of the served configuration a check reads.")
    tolerance: float = Field(
        0.1, ge=0, lt=1, description="Fraction the delivered rate may fall below the sent rate before it is congestion."
    )
    drained_ratio: float = Field(
        0.8, gt=0, le=1, description="Queue drained: a segment crossed the link within this share of the interval."
    )
    probe_every_s: float = Field(10.0, ge=0, description="Seconds steady with the queue drained before probing up.")
    probe_segments: int = Field(2, ge=1, le=32, description="Segments of the probed configuration that must cross.")
    feedback_timeout_s: float = Field(
        15.0,
        gt=0,
        description="A probe or a degrade whose segments have not come back this long after it began ends "
        "(the probe fails; the degrade returns to steady).",
    )


@dataclass(frozen=True)
class Sample:
    """One served segment's passage over the link."""

    key: Key
    link_s: float
    interval_s: float
    bits: float

    @property
    def delivered_bps(self) -> float:
        return self.bits / self.link_s

    @property
    def sent_bps(self) -> float:
        return self.bits / self.interval_s


@dataclass
class Ask:
    """Candidates listed on a golden segment, and when they were first asked for."""

    keys: list[Key]
    asked_at: float
    served: bool = False


@hook(FAMILY, "awstream")
class AwstreamAgent(Agent):
    """Golden-labelled accuracy-bandwidth Pareto set; startup, steady, degrade and probe over it."""

    Config = AwstreamConfig

    def __init__(self, config: HookConfig, *, context: AgentContext) -> None:
        super().__init__(config, context=context)
        assert isinstance(config, AwstreamConfig)
        self.cfg = config
        base = self.knobs()
        base.extra.pop(LABEL_KEY, None)
        if "qp" in config.knobs:
            base = base.model_copy(update={"encoding": "h264"})
        self.base = base
        lad = config.ladders
        golden = base
        for knob in config.knobs:
            golden = lad.set(golden, knob, lad.size(knob) - 1)
        self.golden = golden.model_copy(update={"buffer_size": config.golden_frames})
        self.profile = Profile(config.alpha)
        if config.profile is not None:
            for report in load_reports(config.profile):
                self.profile.ingest(report)
        self.pareto: list[Point] = self.profile.pareto()
        now = context.clock()
        self.full_at = now if self.pareto else -math.inf
        self.online_at = now
        self.pending: list[Key] = []
        """Configurations the profile under way (the grid, or the Pareto set) has still to label."""
        self.ask: Ask | None = None
        self.state: State = "startup"
        self.serving = self.key_of(base)
        self.fallback: Key | None = None
        """The configuration a probe left, to go back to when it fails."""
        self.changed_at = now
        self.samples: deque[Sample] = deque(maxlen=32)
        self.skip = 0
        self.lost = 0
        """Segments of the served configuration dropped for load since the last change of state."""
        """Served segments still to come that queued behind a golden segment."""
        self.counts = {"degrades": 0, "probes": 0, "probes_kept": 0, "full_profiles": 0, "online_profiles": 0}
        self.profiling_tasks = 0
        self.profiling_bytes = 0
        self.labeller_cpu_s = 0.0

    # -- configurations ---------------------------------------------------------------------
    def key_of(self, meta: Meta | Knobs) -> Key:
        return (meta.resolution, float(meta.fps), meta.qp)

    def meta_of(self, key: Key) -> Meta:
        resolution, fps, qp = key
        return self.base.model_copy(update={"resolution": resolution, "fps": fps, "qp": qp}, deep=True)

    def grid(self) -> list[Key]:
        lad, used = self.cfg.ladders, self.cfg.knobs
        resolutions = lad.resolution if "resolution" in used else [self.base.resolution]
        rates = [float(f) for f in lad.fps] if "fps" in used else [float(self.base.fps)]
        qps: list[int | None] = list(lad.qp) if "qp" in used else [self.base.qp]
        return list(itertools.product(resolutions, rates, qps))

    def candidate(self, key: Key) -> Knobs:
        meta = self.meta_of(key)
        return Knobs(
            resolution=meta.resolution,
            fps=meta.fps,
            encoding=self.golden.encoding,
            qp=meta.qp,
            buffer_size=self.base.buffer_size,  # the bytes it would send, in the segments it would be sent in
        )

    def index(self, key: Key) -> int:
        """Position of ``key`` on the Pareto set: its own, else the richest member no dearer than it."""
        keys = [p.key for p in self.pareto]
        if key in keys:
            return keys.index(key)
        entry = self.profile.entries.get(key)
        bps = entry.bps if entry is not None else math.inf
        cheaper = [i for i, p in enumerate(self.pareto) if p.bps <= bps]
        return cheaper[-1] if cheaper else 0

    def fits(self, point: Point, mbps: float) -> bool:
        fps = point.key[1]
        frames = self.base.buffer_size
        return mbps > 0 and link_sojourn_s(point.bps / fps, frames, fps, mbps) <= self.cfg.max_link_s

    def fit(self, mbps: float | None) -> int:
        """The most accurate member that fits ``mbps`` (the cheapest when none does; the richest when unknown)."""
        if mbps is None:
            return len(self.pareto) - 1
        fitting = [i for i, p in enumerate(self.pareto) if self.fits(p, mbps)]
        return fitting[-1] if fitting else 0

    # -- feedback ---------------------------------------------------------------------------
    def on_feedback(self, feedback: TaskFeedback | DropFeedback) -> None:
        if isinstance(feedback, DropFeedback):
            meta = feedback.meta
            served = meta is not None and LABEL_KEY not in meta.extra and self.key_of(meta) == self.serving
            if served and feedback.reason in LOAD_DROPS:
                self.lost += 1  # a segment of what it serves lost to load: congestion, as a growing queue is
            return
        if LABEL_KEY in feedback.meta.extra:
            self.profiling_tasks += 1
            self.profiling_bytes += feedback.segment_bytes or 0
            # The served segments made while this one was on the link queued behind it: its wait is the
            # agent's own profiling traffic, not a sign the served configuration does not fit.
            link_s = max((s.transmit or 0.0 for s in feedback.stages), default=0.0)
            self.skip = math.ceil(link_s / self.interval(self.serving))
            if feedback.labels is None:
                if self.ask is not None:
                    self.ask.served = False  # the labeller skipped that segment (its period, or off): ask again
                return
            self.labeller_cpu_s += feedback.labels.cpu_s
            scored = set(self.profile.ingest(feedback.labels))
            self.pending = [k for k in self.pending if k not in scored]
            if self.ask is not None and scored.issuperset(self.ask.keys):
                self.ask = None
            self.pareto = self.profile.pareto()
            return
        crossed = [s.transmit for s in feedback.stages if s.node not in (None, feedback.source_node)]
        if not feedback.segment_bytes or not any(t is not None for t in crossed):
            return  # the segment did not leave its node: nothing to learn about the link
        link_s = max(LINK_FLOOR_S, *(t for t in crossed if t is not None))
        if self.skip > 0:
            self.skip -= 1
            return
        fps = min(feedback.meta.fps, feedback.raw_meta.fps or feedback.meta.fps)
        bits = (feedback.segment_bytes or 0) * 8.0
        self.samples.append(Sample(self.key_of(feedback.meta), link_s, feedback.frames / fps, bits))

    def interval(self, key: Key) -> float:
        """Seconds of video one served segment of ``key`` holds (the time between two of them)."""
        return self.base.buffer_size / key[1]

    def recent(self, key: Key) -> list[Sample]:
        return [s for s in self.samples if s.key == key][-self.cfg.window :]

    def growing(self, samples: list[Sample]) -> bool:
        """The queue grows: each segment took longer on the link than the one before, the last over its interval."""
        if len(samples) < self.cfg.window:
            return False
        rising = all(b.link_s > a.link_s for a, b in itertools.pairwise(samples))
        return rising and samples[-1].link_s > samples[-1].interval_s

    def short(self, samples: list[Sample]) -> bool:
        """The link delivered less than the segments were sent at."""
        if len(samples) < self.cfg.window:
            return False
        delivered = sum(s.delivered_bps for s in samples) / len(samples)
        sent = sum(s.sent_bps for s in samples) / len(samples)
        return delivered < sent * (1.0 - self.cfg.tolerance)

    def drained(self, samples: list[Sample]) -> bool:
        return not samples or samples[-1].link_s <= samples[-1].interval_s * self.cfg.drained_ratio

    def measured_mbps(self, samples: list[Sample]) -> float | None:
        """What the link delivered to the latest segments (their wait in its queue included)."""
        if not samples:
            return None
        return sum(s.delivered_bps for s in samples) / len(samples) / 1e6

    # -- profiling --------------------------------------------------------------------------
    def due(self, now: float) -> Ask | None:
        ask = self.ask
        if ask is not None:
            if now - ask.asked_at > self.cfg.label_timeout_s:
                self.ask = None  # labels never came (labeller off, or the segment dropped): try later
                return None
            return None if ask.served else ask
        if self.pareto and (self.state in ("degrade", "probe") or not self.drained(self.recent(self.serving))):
            return None  # a golden segment now would add to the congestion being measured
        full_every = self.cfg.full_every_s
        if not self.pending and (not self.pareto or (full_every is not None and now - self.full_at >= full_every)):
            self.pending = self.grid()
            self.full_at = now
            self.counts["full_profiles"] += 1
        online_every = self.cfg.online_every_s
        if not self.pending and self.pareto and online_every is not None and now - self.online_at >= online_every:
            self.pending = [p.key for p in self.pareto]
            self.online_at = now
            self.counts["online_profiles"] += 1
        if self.pending:
            self.ask = Ask(self.pending[: self.cfg.batch], now)
            return self.ask
        return None

    def golden_plan(self, request: PlanRequest, ask: Ask) -> Plan:
        ask.served = True
        meta = self.golden.model_copy(deep=True)
        meta.extra[LABEL_KEY] = [self.candidate(k).model_dump() for k in ask.keys]
        return Plan(meta=meta, offload=self.on_cloud(request))

    # -- the state machine ------------------------------------------------------------------
    def move(self, state: State, serving: Key, now: float) -> None:
        if state == "degrade":
            self.counts["degrades"] += 1
        elif state == "probe":
            self.counts["probes"] += 1
        self.state, self.serving, self.changed_at = state, serving, now
        self.lost = 0

    def step(self, now: float, request: PlanRequest) -> None:
        if not self.pareto:
            self.state = "startup"
            return
        at = self.index(self.serving)
        samples = self.recent(self.pareto[at].key)
        if self.state == "startup":
            monitor = link_mbps(self, request.source_node)
            measured = monitor if monitor is not None else self.measured_mbps(list(self.samples)[-self.cfg.window :])
            # Nothing measured yet: the cheapest member, and probing climbs from there.
            self.move("steady", self.pareto[self.fit(measured) if measured is not None else 0].key, now)
        elif self.state == "steady":
            if self.lost or self.growing(samples) or self.short(samples):
                self.degrade(at, samples, now)
            elif self.probe_ready(at, samples, now):
                self.fallback = self.pareto[at].key
                self.move("probe", self.pareto[at + 1].key, now)
                self.samples.clear()
            else:
                self.serving = self.pareto[at].key  # the member it maps to after a new profile
        elif self.state == "degrade":
            # While the backlog drains every segment waits and so looks short of rate: only a queue that
            # still grows at the lower rate means the drop was not enough.
            if self.lost or self.growing(samples):
                self.degrade(at, samples, now)
            elif samples and self.drained(samples):
                self.move("steady", self.pareto[at].key, now)
            elif not samples and now - self.changed_at > self.cfg.feedback_timeout_s:
                self.move("steady", self.pareto[at].key, now)  # nothing came back to judge: do not wait forever
        else:  # probe
            back = self.index(self.fallback) if self.fallback is not None else max(0, at - 1)
            carried = not any(s.link_s > s.interval_s for s in samples)
            if self.lost or self.growing(samples) or self.short(samples) or not carried:
                # The link did not carry it: back to where the probe started, and let the queue drain.
                self.move("degrade", self.pareto[min(back, at)].key, now)
                self.samples.clear()
            elif len(samples) >= self.cfg.probe_segments:
                self.counts["probes_kept"] += 1
                self.move("steady", self.pareto[at].key, now)
            elif now - self.changed_at > self.cfg.feedback_timeout_s:
                self.move("steady", self.pareto[min(back, at)].key, now)

    def degrade(self, at: int, samples: list[Sample], now: float) -> None:
        target = min(self.fit(self.measured_mbps(samples)), at - 1)
        self.move("degrade", self.pareto[max(0, target)].key, now)
        self.samples.clear()

    def probe_ready(self, at: int, samples: list[Sample], now: float) -> bool:
        if at + 1 >= len(self.pareto) or not self.drained(samples) or now - self.changed_at < self.cfg.probe_every_s:
            return False
        # Drained, a segment's link time is its transfer alone: bits over it is the link's rate.
        capacity = self.measured_mbps(samples)
        return capacity is None or self.fits(self.pareto[at + 1], capacity)

    def decide(self, request: PlanRequest) -> Plan:
        now = self.context.clock()
        ask = self.due(now)
        if ask is not None:
            return self.golden_plan(request, ask)
        self.step(now, request)
        return Plan(meta=self.meta_of(self.serving), offload=self.on_cloud(request))

    def on_cloud(self, request: PlanRequest) -> dict[str, str]:
        """Every stage on the cloud: the edge streams the video, as in the paper, so every segment crosses
        the link and its time there is measured."""
        cloud = self.context.cloud
        return {stage: place(request, stage, [cloud]) for stage in service_stages(request)}

    def info(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "serving": list(self.serving),
            "pareto": [
                {"config": list(p.key), "mbps": round(p.bps / 1e6, 4), "f1": round(p.f1, 4)} for p in self.pareto
            ],
            **self.counts,
            "profiled_configurations": len(self.profile.entries),
            "uninformative_segments": self.profile.uninformative,
            "profiling_tasks": self.profiling_tasks,
            "profiling_bytes": self.profiling_bytes,
            "labeller_cpu_s": round(self.labeller_cpu_s, 6),
            "accuracy": "golden labels",
        }
