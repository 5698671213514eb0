"""``chameleon``: "Chameleon: Scalable Adaptation of Video Analytics" (Jiang et al., SIGCOMM 2018).

Accuracy is measured against the golden configuration (every knob at its richest rung, the most
accurate model) on the **same** segment, by the cloud processor's golden labeller: a profiling decision
serves one segment at the golden configuration, with every stage on the cloud, and lists the candidate
configurations under ``meta.extra["label"]``; the labeller derives each candidate from that segment as
the generator would have made it, scores its F1 against the golden model's detections, and the report
comes back in the task's feedback (``TaskFeedback.labels``). No ground truth is used anywhere.

A full profile (every ``profile_window_s``) lists each knob's values one at a time, the other knobs
golden. Under the paper's independence assumption a configuration's accuracy is the product of its knobs'
F1, and its cost (bytes per second of video, then model seconds per second) the golden cost times the
product of its knobs' cost ratios. The configurations above ``target`` are ranked by cost and the top-k
kept. Between full profiles the shortlist is reused across time: every ``recheck_s`` one golden segment
is labelled with the shortlisted configurations themselves (measured, not estimated), and each decision
serves the cheapest shortlisted configuration whose latest accuracy is above the target, by the costs
measured since. The profiling segments, their bytes and the labeller's CPU are reported as the cost.

A profile whose golden segment found no object (nothing to score against) or whose labels do not come
back is retried at the next decision, until ``probe_timeout_s`` after it was first asked for; then the
agent keeps what it served.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from common.feedback import DropFeedback, TaskFeedback
from common.golden import LABEL_KEY, Knobs, LabelReport
from common.plan import Plan, PlanRequest
from common.registry import HookConfig, hook
from common.task import Meta
from services.scheduler.agent import FAMILY, Agent, AgentConfig, AgentContext, place, service_stages, startup_offload
from services.scheduler.knobs import Ladders

KNOBS = ("resolution", "fps", "model")
Key = tuple[str, float, str | None]


class ChameleonConfig(AgentConfig):
    profile_window_s: float = Field(16.0, gt=0, description="Seconds between full knob-at-a-time profiles.")
    recheck_s: float = Field(
        4.0, gt=0, description="Seconds between re-measurements of the shortlist against golden (reuse across time)."
    )
    target: float = Field(0.8, gt=0, le=1, description="F1 relative to golden a configuration must reach.")
    top_k: int = Field(3, ge=1, le=20, description="Configurations kept in the shortlist.")
    probe_timeout_s: float = Field(
        20.0, gt=0, description="Give up a profile whose labels have not come back this long after it was asked for."
    )
    models: list[str] = Field(
        default_factory=list,
        description="The model knob's values, cheapest first (the last is golden); empty: the model is not a knob.",
    )
    ladders: Ladders = Field(default_factory=Ladders, description="Values the knobs may take, cheapest first.")


@dataclass
class Score:
    """What golden labels said of one configuration: F1 and cost per second of video."""

    f1: float
    bytes_per_s: float
    model_s_per_s: float


@dataclass
class Probe:
    """A profile asked for: the candidates listed on a golden segment, and when it was first asked."""

    full: bool
    candidates: list[Meta]
    asked_at: float
    served: bool = False


def key_of(meta: Meta) -> Key:
    model = meta.extra.get("model")
    return (meta.resolution, float(meta.fps), model if isinstance(model, str) else None)


@hook(FAMILY, "chameleon")
class ChameleonAgent(Agent):
    """Golden-labelled knob-at-a-time profiles; the cheapest shortlisted configuration above target."""

    Config = ChameleonConfig

    def __init__(self, config: HookConfig, *, context: AgentContext) -> None:
        super().__init__(config, context=context)
        assert isinstance(config, ChameleonConfig)
        self.cfg = config
        base = self.knobs()
        base.extra.pop(LABEL_KEY, None)
        lad = config.ladders
        golden = lad.set(lad.set(base, "resolution", lad.size("resolution") - 1), "fps", lad.size("fps") - 1)
        self.golden = self.with_model(golden, config.models[-1] if config.models else None)
        self.profile: dict[Key, Score] = {}
        """Knob-at-a-time scores of the last full profile."""
        self.measured: dict[Key, Score] = {}
        """Scores measured directly for whole configurations (the shortlist's rechecks)."""
        self.sent_bytes: dict[Key, tuple[int, float]] = {}
        """Running mean of bytes per second of the segments served with each configuration."""
        self.probe: Probe | None = None
        self.profiled_at = -math.inf
        self.rechecked_at = -math.inf
        self.shortlist: list[Meta] = []
        self.serving = base
        self.rounds = 0
        self.rechecks = 0
        self.profiling_tasks = 0
        self.profiling_bytes = 0
        self.labeller_cpu_s = 0.0
        self.uninformative = 0

    @staticmethod
    def with_model(meta: Meta, model: str | None) -> Meta:
        extra = {k: v for k, v in meta.extra.items() if k not in ("model", LABEL_KEY)}
        if model is not None:
            extra["model"] = model
        return meta.model_copy(update={"extra": extra})

    # -- candidates -------------------------------------------------------------------------
    def single(self, knob: str, index: int) -> Meta:
        """Golden with one knob at rung ``index``."""
        if knob == "model":
            return self.with_model(self.golden, self.cfg.models[index])
        return self.cfg.ladders.set(self.golden, knob, index)

    def rungs(self, knob: str) -> int:
        return len(self.cfg.models) if knob == "model" else self.cfg.ladders.size(knob)

    def knob_index(self, meta: Meta, knob: str) -> int:
        if knob == "model":
            return self.cfg.models.index(key_of(meta)[2] or self.cfg.models[-1])
        return self.cfg.ladders.index(meta, knob)

    def knobs_in_use(self) -> tuple[str, ...]:
        return KNOBS if self.cfg.models else KNOBS[:2]

    def probes(self) -> list[Meta]:
        """Golden, then each knob's other values with the rest golden."""
        out = [self.golden]
        for knob in self.knobs_in_use():
            out.extend(self.single(knob, i) for i in range(self.rungs(knob) - 1))
        return out

    def configurations(self) -> list[Meta]:
        lad = self.cfg.ladders
        models: list[str | None] = list(self.cfg.models) or [None]
        return [
            self.with_model(self.golden.model_copy(update={"resolution": res, "fps": fps}), model)
            for res, fps, model in itertools.product(lad.resolution, lad.fps, models)
        ]

    # -- feedback ---------------------------------------------------------------------------
    def on_feedback(self, feedback: TaskFeedback | DropFeedback) -> None:
        if not isinstance(feedback, TaskFeedback):
            return
        key = key_of(feedback.meta)
        if LABEL_KEY in feedback.meta.extra:
            self.profiling_tasks += 1
            self.profiling_bytes += feedback.segment_bytes or 0
        else:
            rate = (feedback.segment_bytes or 0) * feedback.meta.fps / max(1, feedback.meta.buffer_size)
            n, mean = self.sent_bytes.get(key, (0, 0.0))
            self.sent_bytes[key] = (n + 1, mean + (rate - mean) / (n + 1))
        if feedback.labels is not None:
            self.labeller_cpu_s += feedback.labels.cpu_s
            self.ingest(feedback.labels)
        elif LABEL_KEY in feedback.meta.extra and self.probe is not None:
            self.probe.served = False  # the labeller did not label that segment (busy or off): ask again

    def ingest(self, report: LabelReport) -> None:
        """Labels of a profile asked for: scores, then the shortlist (full) or its measurements (recheck)."""
        probe = self.probe
        if probe is None or report.golden.resolution != self.golden.resolution:
            return
        if report.golden_objects == 0:
            # Nothing to find on this segment scores every configuration 1: no information, ask again.
            self.uninformative += 1
            probe.served = False
            return
        duration = max(report.duration_s, 1e-6)
        scores = {
            (c.knobs.resolution, float(c.knobs.fps), c.knobs.model): Score(
                c.f1, c.bytes / duration, c.model_s / duration
            )
            for c in report.candidates
        }
        wanted = [key_of(m) for m in probe.candidates]
        if any(k not in scores for k in wanted):
            return
        self.probe = None
        if probe.full:
            self.profile = {k: scores[k] for k in wanted}
            self.measured = {}
            self.rounds += 1
            self.rank()
        else:
            self.measured.update({k: scores[k] for k in wanted})
            self.rechecks += 1

    # -- ranking ----------------------------------------------------------------------------
    def estimate(self, meta: Meta) -> Score | None:
        """Accuracy and cost of ``meta`` from the knob-at-a-time profile, assuming knobs independent."""
        golden = self.profile.get(key_of(self.golden))
        if golden is None:
            return None
        f1, bytes_ratio, model_ratio = 1.0, 1.0, 1.0
        for knob in self.knobs_in_use():
            seen = self.profile.get(key_of(self.single(knob, self.knob_index(meta, knob))))
            if seen is None:
                return None
            f1 *= seen.f1 / golden.f1 if golden.f1 > 0 else seen.f1
            bytes_ratio *= seen.bytes_per_s / golden.bytes_per_s if golden.bytes_per_s > 0 else 1.0
            model_ratio *= seen.model_s_per_s / golden.model_s_per_s if golden.model_s_per_s > 0 else 1.0
        return Score(min(1.0, f1), golden.bytes_per_s * bytes_ratio, golden.model_s_per_s * model_ratio)

    def rank(self) -> None:
        ranked = []
        for meta in self.configurations():
            score = self.estimate(meta)
            if score is not None and score.f1 >= self.cfg.target:
                ranked.append((score.bytes_per_s, score.model_s_per_s, -score.f1, meta))
        ranked.sort(key=lambda r: r[:3])
        self.shortlist = [r[3] for r in ranked[: self.cfg.top_k]] or [self.golden]

    def latest(self, meta: Meta) -> Score | None:
        """The configuration's latest scores: measured on a recheck when it was, else estimated."""
        return self.measured.get(key_of(meta)) or self.estimate(meta)

    def choose(self) -> Meta:
        """Cheapest shortlisted configuration above target, by the bytes measured since where there are some."""

        def cost(meta: Meta) -> tuple[float, float]:
            score = self.latest(meta)
            sent = self.sent_bytes.get(key_of(meta))
            bytes_per_s = sent[1] if sent else (score.bytes_per_s if score else math.inf)
            return bytes_per_s, score.model_s_per_s if score else math.inf

        fine = [m for m in self.shortlist if (s := self.latest(m)) is not None and s.f1 >= self.cfg.target]
        return min(fine or self.shortlist, key=cost)

    # -- decisions --------------------------------------------------------------------------
    def due(self, now: float) -> Probe | None:
        if self.probe is not None:
            if now - self.probe.asked_at > self.cfg.probe_timeout_s:
                # Labels never came (labeller off, refused, or the segment dropped): keep serving, try later.
                full = self.probe.full
                self.probe = None
                if full:
                    self.profiled_at = now
                else:
                    self.rechecked_at = now
                return None
            return self.probe if not self.probe.served else None
        if now - self.profiled_at >= self.cfg.profile_window_s:
            self.profiled_at = self.rechecked_at = now
            self.probe = Probe(full=True, candidates=self.probes(), asked_at=now)
            return self.probe
        if self.shortlist and now - self.rechecked_at >= self.cfg.recheck_s:
            self.rechecked_at = now
            self.probe = Probe(full=False, candidates=list(self.shortlist), asked_at=now)
            return self.probe
        return None

    def decide(self, request: PlanRequest) -> Plan:
        now = self.context.clock()
        probe = self.due(now)
        if probe is not None:
            probe.served = True
            meta = self.golden.model_copy(deep=True)
            meta.extra[LABEL_KEY] = [Knobs.of_meta(m).model_dump() for m in probe.candidates]
            cloud = self.context.cloud
            return Plan(meta=meta, offload={stage: place(request, stage, [cloud]) for stage in service_stages(request)})
        if self.shortlist:
            self.serving = self.choose()
        return Plan(meta=self.serving.model_copy(deep=True), offload=startup_offload(self, request))

    def info(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "rechecks": self.rechecks,
            "profiling": self.probe is not None,
            "profiling_tasks": self.profiling_tasks,
            "profiling_bytes": self.profiling_bytes,
            "labeller_cpu_s": round(self.labeller_cpu_s, 6),
            "uninformative_segments": self.uninformative,
            "accuracy": "golden labels",
            "shortlist": [list(key_of(m)) for m in self.shortlist],
        }
