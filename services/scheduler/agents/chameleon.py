"""``chameleon``: "Chameleon: Scalable Adaptation of Video Analytics" (Jiang et al., SIGCOMM 2018).

Every profiling window the agent runs the golden configuration (every knob at its richest rung, every
stage on the cloud) and then each knob's values one at a time, the other knobs held golden. A knob
value's score is the accuracy of its configuration relative to the golden one; under the paper's
independence assumption a configuration's accuracy is the product of its knobs' scores, and its cost
(bytes per second of video) the golden cost times the product of its knobs' cost ratios. All
configurations are ranked and a top-k shortlist of those above the accuracy target is kept; at every
later decision the shortlist is re-ranked with the costs measured since and the cheapest one above the
target is served. Profiling segments are real segments: their bytes and count are reported as the
profiling cost.

A round is pipelined: each profiled configuration is served for one decision and the next one follows
at the next decision, without waiting for the previous one's results (which come back a delay later, and
are told apart by their knobs). Once every configuration has been served the agent goes back to what it
served before and ranks when each has ``probe_tasks`` results, or ``probe_timeout_s`` after the last was
served. A round therefore takes about one decision per configuration plus one delay, whatever the link.

Accuracy of a configuration: the F1 against ground truth carried in feedback when the datasource has
it, else objects found per frame relative to the golden run (a recall proxy that needs no ground truth).
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from common.feedback import DropFeedback, TaskFeedback
from common.plan import Plan, PlanRequest
from common.registry import HookConfig, hook
from common.task import Meta
from services.scheduler.agent import FAMILY, Agent, AgentConfig, AgentContext, place, service_stages, startup_offload
from services.scheduler.knobs import Ladders

KNOBS = ("resolution", "fps")
Key = tuple[str, float]


class ChameleonConfig(AgentConfig):
    profile_window_s: float = Field(16.0, gt=0, description="Seconds between profiling rounds.")
    target: float = Field(0.8, gt=0, le=1, description="Accuracy relative to golden a configuration must reach.")
    top_k: int = Field(3, ge=1, le=100, description="Configurations kept in the shortlist.")
    probe_tasks: int = Field(1, ge=1, le=100, description="Feedback tasks needed per profiled configuration.")
    probe_timeout_s: float = Field(
        20.0, gt=0, description="Rank without the missing results this long after the round's last configuration."
    )
    ladders: Ladders = Field(default_factory=Ladders, description="Values the knobs may take, cheapest first.")


@dataclass
class Measured:
    """Running means of what tasks made with one configuration showed."""

    n: int = 0
    accuracy: float = 0.0
    objects: float = 0.0
    bytes_per_s: float = 0.0
    has_truth: bool = False

    def add(self, fb: TaskFeedback) -> None:
        self.n += 1
        rate = (fb.segment_bytes or 0) * fb.meta.fps / max(1, fb.meta.buffer_size)
        self.bytes_per_s += (rate - self.bytes_per_s) / self.n
        self.objects += ((fb.content.obj_num or 0.0) - self.objects) / self.n
        if fb.accuracy is not None:
            self.has_truth = True
            self.accuracy += (fb.accuracy - self.accuracy) / self.n


def key_of(meta: Meta) -> Key:
    return (meta.resolution, float(meta.fps))


@hook(FAMILY, "chameleon")
class ChameleonAgent(Agent):
    """Periodic knob-at-a-time profiling against the golden configuration; cheapest shortlisted config above target."""

    Config = ChameleonConfig

    def __init__(self, config: HookConfig, *, context: AgentContext) -> None:
        super().__init__(config, context=context)
        assert isinstance(config, ChameleonConfig)
        self.cfg = config
        base = self.knobs()
        lad = config.ladders
        self.golden = lad.set(lad.set(base, "resolution", lad.size("resolution") - 1), "fps", lad.size("fps") - 1)
        self.measured: dict[Key, Measured] = {}
        self.round_started = -math.inf
        self.round_started_wall = -math.inf
        """Wall clock of the round's start: feedback carries wall-clock creation times."""
        self.ranked_at = -math.inf
        self.queue: list[Meta] = []
        self.probing: Meta | None = None
        """The configuration being profiled by this decision (None between rounds)."""
        self.probe_since = 0.0
        """When the round's last configuration so far was served."""
        self.collecting = False
        """Every configuration of the round was served; waiting for their results to rank."""
        self.shortlist: list[Meta] = []
        self.serving = base
        self.profiling_tasks = 0
        self.profiling_bytes = 0
        self.rounds = 0
        self._probe_keys: set[Key] = set()

    # -- feedback ---------------------------------------------------------------------------
    def on_feedback(self, feedback: TaskFeedback | DropFeedback) -> None:
        if not isinstance(feedback, TaskFeedback):
            return
        key = key_of(feedback.meta)
        if key in self._probe_keys and feedback.created_at >= self.round_started_wall:
            self.profiling_tasks += 1
            self.profiling_bytes += feedback.segment_bytes or 0
            # Profiling measures each configuration afresh in every round.
            self.measured.setdefault(key, Measured()).add(feedback)
        elif key in self.measured:
            self.measured[key].add(feedback)

    # -- profiling --------------------------------------------------------------------------
    def probes(self) -> list[Meta]:
        """Golden first, then each knob's other values with the rest golden."""
        lad = self.cfg.ladders
        out = [self.golden]
        for knob in KNOBS:
            for i in range(lad.size(knob) - 1):
                out.append(lad.set(self.golden, knob, i))
        return out

    def start_round(self, now: float) -> None:
        self.round_started = now
        self.round_started_wall = time.time()
        self.queue = self.probes()
        self._probe_keys = {key_of(m) for m in self.queue}
        for key in self._probe_keys:
            self.measured[key] = Measured()
        self.probing = None
        self.collecting = False
        self.rounds += 1

    def round_measured(self, now: float) -> bool:
        """Every configuration of the round has its results, or the last one was served too long ago."""
        if now - self.probe_since > self.cfg.probe_timeout_s:
            return True
        return all(
            (m := self.measured.get(key)) is not None and m.n >= self.cfg.probe_tasks for key in self._probe_keys
        )

    def score(self, meta: Meta) -> float | None:
        """Accuracy relative to golden, measured directly (None when not measured)."""
        golden = self.measured.get(key_of(self.golden))
        seen = self.measured.get(key_of(meta))
        if golden is None or seen is None or golden.n == 0 or seen.n == 0:
            return None
        if golden.has_truth and seen.has_truth:
            return min(1.0, seen.accuracy / golden.accuracy) if golden.accuracy > 0 else 1.0
        return min(1.0, seen.objects / golden.objects) if golden.objects > 0 else 1.0

    def estimate(self, meta: Meta) -> tuple[float, float]:
        """(accuracy, bytes/s) of ``meta`` from the knob-at-a-time profiles, assuming knobs independent."""
        golden = self.measured[key_of(self.golden)]
        accuracy, cost = 1.0, 1.0
        for knob in KNOBS:
            single = self.cfg.ladders.set(self.golden, knob, self.cfg.ladders.index(meta, knob))
            seen = self.measured.get(key_of(single))
            accuracy *= self.score(single) or 0.0
            if seen is not None and seen.n and golden.bytes_per_s > 0:
                cost *= seen.bytes_per_s / golden.bytes_per_s
        return accuracy, cost * golden.bytes_per_s

    def rank(self) -> None:
        self.ranked_at = self.context.clock()
        golden = self.measured.get(key_of(self.golden))
        if golden is None or golden.n == 0:
            # Nothing can be scored against a golden run that never came back: keep what was served.
            return
        lad = self.cfg.ladders
        candidates = []
        for res, fps in itertools.product(lad.resolution, lad.fps):
            meta = self.golden.model_copy(update={"resolution": res, "fps": fps})
            accuracy, cost = self.estimate(meta)
            if accuracy >= self.cfg.target:
                candidates.append((cost, -accuracy, meta))
        candidates.sort(key=lambda c: (c[0], c[1]))
        self.shortlist = [c[2] for c in candidates[: self.cfg.top_k]] or [self.golden]

    def choose(self) -> Meta:
        """Cheapest shortlisted configuration, by the latest measurements where there are some."""

        def cost(meta: Meta) -> float:
            seen = self.measured.get(key_of(meta))
            if seen is not None and seen.n:
                return seen.bytes_per_s
            return self.estimate(meta)[1]

        fine = [m for m in self.shortlist if (self.score(m) or self.estimate(m)[0]) >= self.cfg.target]
        return min(fine or self.shortlist, key=cost)

    # -- decisions --------------------------------------------------------------------------
    def decide(self, request: PlanRequest) -> Plan:
        now = self.context.clock()
        if not self.queue and not self.collecting and now - self.ranked_at >= self.cfg.profile_window_s:
            self.start_round(now)
        if self.queue:
            self.probing, self.probe_since = self.queue.pop(0), now
            self.collecting = True
            cloud = self.context.cloud
            offload = {stage: place(request, stage, [cloud]) for stage in service_stages(request)}
            return Plan(meta=self.probing.model_copy(deep=True), offload=offload)
        self.probing = None
        if self.collecting and self.round_measured(now):
            self.collecting = False
            self.rank()
        if self.shortlist:
            self.serving = self.choose()
        return Plan(meta=self.serving.model_copy(deep=True), offload=startup_offload(self, request))

    def info(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "profiling": self.collecting or bool(self.queue),
            "profiling_tasks": self.profiling_tasks,
            "profiling_bytes": self.profiling_bytes,
            "shortlist": [list(key_of(m)) for m in self.shortlist],
        }
