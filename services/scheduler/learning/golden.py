"""Accuracy learnt from golden-configuration labels, for agents that have no ground truth.

Every ``every_s`` the agent serves one segment at the golden configuration (the ladders' richest rungs)
with every stage on the cloud, listing each knob's other rungs one at a time under ``meta.extra["label"]``;
the cloud processor's labeller scores them against the golden model on that segment and the report comes
back in the feedback. Each rung's F1 is kept as a running mean, and a configuration's accuracy is the
product of its knobs' F1 (Chameleon's independence assumption). The fps knob is measured with the frames
it skips carrying the last detections, so the figure already holds what a lower rate costs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from common.golden import LABEL_KEY, Knobs, LabelReport
from common.plan import Plan, PlanRequest
from common.task import Meta
from services.scheduler.agent import place, service_stages
from services.scheduler.knobs import Ladders

KNOBS = ("resolution", "fps", "qp")


class GoldenLabelsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    every_s: float | None = Field(
        None, gt=0, description="Seconds between golden-labelled segments; none: never ask (no accuracy learnt)."
    )
    alpha: float = Field(0.5, gt=0, le=1, description="Weight of the newest labels in the running means.")
    timeout_s: float = Field(20.0, gt=0, description="Stop waiting for labels this long after asking.")
    model: str | None = Field(None, description="The golden model (the application's most accurate); none: default.")


def rung_key(knob: str, meta: Meta | Knobs) -> tuple[str, float | str | None]:
    value = getattr(meta, knob)
    return (knob, value if isinstance(value, str) or value is None else float(value))


class GoldenAccuracy:
    """Asks for golden labels now and then, and estimates a configuration's F1 from them."""

    def __init__(self, config: GoldenLabelsConfig, ladders: Ladders, clock: Callable[[], float]) -> None:
        self.cfg = config
        self.ladders = ladders
        self.clock = clock
        self.f1: dict[tuple[str, float | str | None], float] = {}
        self.asked_at = -math.inf
        self.pending = False
        self.asked = 0
        self.labelled = 0
        self.cpu_s = 0.0

    def golden(self, meta: Meta) -> Meta:
        lad = self.ladders
        rich = meta
        for knob in KNOBS:
            rich = lad.set(rich, knob, lad.size(knob) - 1)
        extra = {k: v for k, v in meta.extra.items() if k not in ("model", LABEL_KEY)}
        if self.cfg.model is not None:
            extra["model"] = self.cfg.model
        return rich.model_copy(update={"extra": extra})

    def candidates(self, golden: Meta) -> list[Knobs]:
        out = [self.knobs(golden)]
        for knob in KNOBS:
            for i in range(self.ladders.size(knob) - 1):
                out.append(self.knobs(self.ladders.set(golden, knob, i)))
        return out

    @staticmethod
    def knobs(meta: Meta) -> Knobs:
        return Knobs.of_meta(meta)

    def due(self) -> bool:
        if self.cfg.every_s is None:
            return False
        now = self.clock()
        if self.pending and now - self.asked_at > self.cfg.timeout_s:
            self.pending = False
        return not self.pending and now - self.asked_at >= self.cfg.every_s

    def plan(self, request: PlanRequest, meta: Meta, cloud: str) -> Plan:
        """The profiling plan: ``meta`` at the golden rungs, labels asked for, every stage on the cloud."""
        golden = self.golden(meta)
        golden.extra[LABEL_KEY] = [c.model_dump() for c in self.candidates(golden)]
        self.asked_at, self.pending = self.clock(), True
        self.asked += 1
        return Plan(meta=golden, offload={stage: place(request, stage, [cloud]) for stage in service_stages(request)})

    def ingest(self, report: LabelReport) -> None:
        self.pending = False
        self.cpu_s += report.cpu_s
        if report.golden_objects == 0:
            return  # nothing on the segment to score against
        self.labelled += 1
        golden = report.golden
        for score in report.candidates:
            changed = [k for k in KNOBS if rung_key(k, score.knobs) != rung_key(k, golden)]
            if len(changed) > 1:
                continue
            for knob in changed or list(KNOBS):
                key = rung_key(knob, score.knobs)
                old = self.f1.get(key)
                self.f1[key] = score.f1 if old is None else old + self.cfg.alpha * (score.f1 - old)

    def estimate(self, meta: Meta) -> float | None:
        """F1 of ``meta`` relative to golden from the labels so far; None before the first labels."""
        if not self.f1:
            return None
        f1 = 1.0
        for knob in KNOBS:
            index = self.ladders.index(meta, knob)
            value = self.f1.get(rung_key(knob, self.ladders.set(meta, knob, index)))
            if value is None:
                return None
            f1 *= value
        return f1

    def info(self) -> dict[str, float | int]:
        return {"asked": self.asked, "labelled": self.labelled, "labeller_cpu_s": round(self.cpu_s, 6)}
