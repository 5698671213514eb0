"""``hei``: hierarchical adaptation. A macro agent (soft actor-critic) acts every ``macro_every`` decisions
with a -1/0/+1 step per knob (resolution, fps, frames per segment, split point: the stages before it run on
the source's node, the rest on the cloud); between macro steps the micro negative-feedback loop of
``hei-nf`` moves the knobs down on delay violations and up with slack. Ships with weights trained on the
project's simulator; keeps learning online when ``learn`` is set. Needs PyTorch (the ``rl`` extra).

A macro step waits for evidence of the one before: ``micro.every`` tasks (or drops) made after it. Feedback
arrives a task's delay late, and on a congested link that is many decisions; a macro agent acting on a
window that does not yet show its last step's effect steps again the same way, and two runs that differ
only in when feedback arrived diverge. Without such evidence for ``8 * macro_every`` decisions (feedback
lost) it acts anyway. "Made after it" is told without comparing clocks of different machines: feedback the
scheduler received after the step (its receipt order) whose knobs are ones this agent served since the step
(drops with unknown knobs count too). A task in flight at the step that was made with knobs served again
since (a step that left the knobs as they were, or moved only the split point) cannot be told apart and counts.

The macro reward's accuracy is the F1 against ground truth where the source has it, else the F1 relative
to the golden configuration learnt from golden-labelled segments (``golden.every_s``).
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from common.feedback import DropFeedback, TaskFeedback
from common.plan import Plan, PlanRequest
from common.registry import HookConfig, hook
from common.task import Meta
from services.scheduler.agent import FAMILY, Agent, AgentConfig, AgentContext, place, service_stages
from services.scheduler.agents.casva import shipped_weights
from services.scheduler.agents.hei_nf import MicroConfig, MicroController
from services.scheduler.learning import require_torch
from services.scheduler.learning.features import reward, state_dim, state_vector
from services.scheduler.learning.golden import GoldenAccuracy, GoldenLabelsConfig

require_torch()
log = logging.getLogger(__name__)
MACRO_KNOBS = ("resolution", "fps", "buffer_size")
STEPS = list(itertools.product((-1, 0, 1), repeat=len(MACRO_KNOBS) + 1))  # + the split point


class HeiConfig(AgentConfig):
    slo_s: float = Field(1.0, gt=0, description="Delay a segment should meet (macro reward and micro loop).")
    macro_every: int = Field(4, ge=1, le=1000, description="Decisions between two macro steps.")
    delay_weight: float = Field(0.5, ge=0, description="Weight of delay in the macro reward.")
    micro: MicroConfig = Field(default_factory=MicroConfig, description="The micro loop (its slo_s defaults to ours).")
    weights: str | None = Field(None, description="Weights file; null: the shipped ones.")
    pretrained: bool = Field(True, description="Start from the weights file; false: untrained (for training).")
    learn: bool = Field(False, description="Keep learning online from feedback.")
    seed: int = Field(0, description="Seed of the networks and of the sampling.")
    golden: GoldenLabelsConfig = Field(
        default_factory=GoldenLabelsConfig,
        description="Golden-labelled segments: the macro reward's accuracy where the source has no ground truth.",
    )


@hook(FAMILY, "hei")
class HeiAgent(Agent):
    """Macro SAC steps per knob and split point; micro negative feedback in between."""

    Config = HeiConfig

    def __init__(self, config: HookConfig, *, context: AgentContext) -> None:
        super().__init__(config, context=context)
        assert isinstance(config, HeiConfig)
        self.cfg = config
        micro = (
            config.micro if config.micro.slo_s is not None else config.micro.model_copy(update={"slo_s": config.slo_s})
        )
        self.micro = MicroController(micro)
        self.ladders = micro.ladders
        from services.scheduler.learning.sac import DiscreteSac

        self.sac = DiscreteSac(state_dim(len(MACRO_KNOBS) + 1), len(STEPS), seed=config.seed)
        path = Path(config.weights) if config.weights else shipped_weights("hei", "latency-first")
        self.weights: str | None = None
        if not config.pretrained:
            pass
        elif path.exists():
            self.sac.load(path)
            self.weights = str(path)
        elif config.weights:
            raise FileNotFoundError(f"hei weights {path} do not exist")
        else:
            log.warning("hei: no shipped weights at %s; starting untrained", path)
        self.meta = self.knobs()
        self.split: int | None = None
        self.decisions = 0
        self.last: tuple[np.ndarray, int, int] | None = None
        self.macro_steps = 0
        # Receipt number at the last macro step and the knobs served since: feedback received after it and
        # made with those knobs shows the step's effect.
        self.macro_seq: int | None = None
        self.served: list[Meta] = []
        self.next_macro = 0
        self.last_macro_decision = 0
        self.macro_waits = 0
        self.golden = GoldenAccuracy(config.golden, self.ladders, context.clock)

    def on_feedback(self, feedback: TaskFeedback | DropFeedback) -> None:
        if isinstance(feedback, TaskFeedback) and feedback.labels is not None:
            self.golden.ingest(feedback.labels)

    def positions(self, stages: int) -> list[float]:
        lad = self.ladders
        knobs = [lad.index(self.meta, k) / max(1, lad.size(k) - 1) for k in MACRO_KNOBS]
        return [*knobs, (self.split or 0) / max(1, stages)]

    def macro(self, request: PlanRequest, stages: list[str]) -> None:
        history = self.context.history
        state = state_vector(history.window(16), self.positions(len(stages)), self.cfg.slo_s)
        if self.last is not None and self.cfg.learn:
            outcome = history.added_after(self.last[2])
            if outcome:
                r = reward(outcome, self.cfg.slo_s, "latency-first", self.cfg.delay_weight, self.golden.estimate)
                self.sac.remember(self.transition(self.last[0], self.last[1], r, state))
                self.sac.update()
        action = self.sac.act(state, explore=self.cfg.learn)
        step = STEPS[action]
        meta = self.meta
        for knob, delta in zip(MACRO_KNOBS, step, strict=False):
            meta = self.ladders.set(meta, knob, self.ladders.index(meta, knob) + delta)
        self.meta = meta
        self.split = max(0, min(len(stages), (self.split or 0) + step[-1]))
        self.last = (state, action, history.seq)
        self.macro_steps += 1

    def macro_evidence(self) -> bool:
        """Whether enough tasks made since the last macro step came back to judge it (or waiting has gone on
        too long)."""
        if self.macro_seq is None:
            return True
        seen = sum(
            1
            for item in self.context.history.added_after(self.macro_seq)
            if item.meta is None or any(_same(item.meta, m) for m in self.served)
        )
        waited = self.decisions - self.last_macro_decision
        return seen >= self.micro.config.every or waited >= 8 * self.cfg.macro_every

    def offload(self, request: PlanRequest, stages: list[str]) -> dict[str, str]:
        split = self.split or 0
        return {
            stage: place(request, stage, [request.source_node if i < split else self.context.cloud])
            for i, stage in enumerate(stages)
        }

    def decide(self, request: PlanRequest) -> Plan:
        if self.golden.due():
            # A profiling segment, not a macro or micro step: the knobs served stay as they were.
            return self.golden.plan(request, self.meta, self.context.cloud)
        stages = service_stages(request)
        if self.split is None:
            startup = self.context.startup.offload
            self.split = sum(1 for s in stages if (startup.get(s) or request.source_node) != self.context.cloud)
        if self.decisions >= self.next_macro and self.macro_evidence():
            self.macro(request, stages)
            self.macro_seq = self.context.history.seq
            self.served = []
            self.last_macro_decision = self.decisions
            self.next_macro = self.decisions + self.cfg.macro_every
        else:
            if self.decisions >= self.next_macro:
                self.macro_waits += 1
            self.meta = self.micro.step(self.context.history, self.meta)
        if not any(_same(self.meta, m) for m in self.served):
            self.served.append(self.meta)  # at most one entry per rung combination
        self.decisions += 1
        return Plan(meta=self.meta.model_copy(deep=True), offload=self.offload(request, stages))

    def transition(self, state: np.ndarray, action: int, reward_: float, next_state: np.ndarray) -> Any:
        from services.scheduler.learning.sac import Transition

        return Transition(state, action, reward_, next_state)

    def info(self) -> dict[str, Any]:
        return {
            "weights": self.weights,
            "macro_steps": self.macro_steps,
            "macro_waits": self.macro_waits,
            "split": self.split,
            "updates": self.sac.updates,
            "golden": self.golden.info(),
        }


def _same(a: Meta, b: Meta) -> bool:
    """Made with the same macro knobs (a stream's short last segment has fewer frames: it is not)."""
    return all(getattr(a, k) == getattr(b, k) for k in MACRO_KNOBS)
