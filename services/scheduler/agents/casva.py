"""``casva``: "CASVA: Configuration-Adaptive Streaming for Live Video Analytics" (Zhang et al., INFOCOM 2022).

A deep-RL actor-critic picks resolution, fps and quantisation (qp) for the next segments from a window of
measured bandwidth, delay, segment size, content dynamics (objects, motion) and skipped segments. The
segment length is fixed in seconds, so the buffer is ``ceil(fps x segment_s)`` frames. Two reward modes:
``latency-first`` (accuracy minus delay) and ``delivery-first`` (accuracy of segments delivered within the
SLO, skipped ones penalised). Accuracy is the F1 against ground truth where the source has it, else the
F1 relative to the golden configuration learnt from golden-labelled segments (``golden.every_s``).
As in the original Dayu the learner is a soft actor-critic (discrete actions);
it ships with weights trained on the project's simulator (``python -m services.scheduler.learning.train``)
and keeps learning online when ``learn`` is set. Needs PyTorch (the ``rl`` extra).
The network sees the knobs as positions from cheapest to richest and chooses positions on a fixed grid
(:data:`GRID`), mapped to the nearest rungs of the ladders in use, so the weights fit any ladder.
"""

from __future__ import annotations

import itertools
import logging
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from common.feedback import DropFeedback, TaskFeedback
from common.plan import Plan, PlanRequest
from common.registry import HookConfig, hook
from common.task import Meta
from services.scheduler.agent import FAMILY, Agent, AgentConfig, AgentContext, startup_offload
from services.scheduler.knobs import Ladders
from services.scheduler.learning import require_torch
from services.scheduler.learning.features import reward, state_dim, state_vector
from services.scheduler.learning.golden import GoldenAccuracy, GoldenLabelsConfig

require_torch()
log = logging.getLogger(__name__)
WEIGHTS = Path(__file__).resolve().parents[1] / "learning" / "weights"


class CasvaConfig(AgentConfig):
    slo_s: float = Field(1.0, gt=0, description="Delay a segment should meet, seconds.")
    mode: Literal["latency-first", "delivery-first"] = Field("latency-first", description="Reward mode.")
    delay_weight: float = Field(0.5, ge=0, description="Weight of delay (or of a skipped segment) in the reward.")
    segment_s: float = Field(0.5, gt=0, le=10, description="Segment length in seconds; buffer = ceil(fps x this).")
    weights: str | None = Field(None, description="Weights file; null: the shipped weights of the mode.")
    pretrained: bool = Field(True, description="Start from the weights file; false: untrained (for training).")
    learn: bool = Field(False, description="Keep learning online from feedback.")
    explore: bool = Field(False, description="Sample actions from the policy instead of taking the most likely.")
    seed: int = Field(0, description="Seed of the networks and of the sampling.")
    ladders: Ladders = Field(default_factory=Ladders, description="Values the knobs may take, cheapest first.")
    golden: GoldenLabelsConfig = Field(
        default_factory=GoldenLabelsConfig,
        description="Golden-labelled segments: the reward's accuracy where the source has no ground truth.",
    )


GRID = {"resolution": 5, "fps": 7, "qp": 6}
"""Positions per knob the network chooses among, whatever the ladders: an action is a position from cheapest
(0) to richest (1) on each knob, mapped to the nearest rung of the ladder in use. The state gives the knobs
as such positions too, so one set of weights fits a ladder of any length (the default ladders have exactly
these sizes, and map one to one)."""


def shipped_weights(agent: str, mode: str) -> Path:
    return WEIGHTS / f"{agent}-{mode}.pt"


def rung(position: int, positions: int, rungs: int) -> int:
    """The rung of a ladder of ``rungs`` nearest to grid ``position`` of ``positions`` (both cheap first)."""
    return round(position / max(1, positions - 1) * (rungs - 1))


def actions(ladders: Ladders) -> list[tuple[int, int, int]]:
    """Rung indices (resolution, fps, qp) of each of the network's actions on ``ladders``."""
    knobs = ("resolution", "fps", "qp")
    grids = [[rung(p, GRID[k], ladders.size(k)) for p in range(GRID[k])] for k in knobs]
    return [(r, f, q) for r, f, q in itertools.product(*grids)]


@hook(FAMILY, "casva")
class CasvaAgent(Agent):
    """Soft actor-critic over (resolution, fps, qp) per segment; latency-first or delivery-first reward."""

    Config = CasvaConfig

    def __init__(self, config: HookConfig, *, context: AgentContext) -> None:
        super().__init__(config, context=context)
        assert isinstance(config, CasvaConfig)
        self.cfg = config
        self.actions = actions(config.ladders)
        from services.scheduler.learning.sac import DiscreteSac

        self.sac = DiscreteSac(state_dim(3), len(self.actions), seed=config.seed)
        path = Path(config.weights) if config.weights else shipped_weights("casva", config.mode)
        self.weights = self._load(path)
        self.meta = self.with_buffer(self.knobs())
        self.last: tuple[np.ndarray, int] | None = None
        self.last_seq = 0
        self.rewards: list[float] = []
        self.golden = GoldenAccuracy(config.golden, config.ladders, context.clock)

    def on_feedback(self, feedback: TaskFeedback | DropFeedback) -> None:
        if isinstance(feedback, TaskFeedback) and feedback.labels is not None:
            self.golden.ingest(feedback.labels)

    def _load(self, path: Path) -> str | None:
        if not self.cfg.pretrained:
            return None
        if not path.exists():
            if self.cfg.weights:
                raise FileNotFoundError(f"casva weights {path} do not exist")
            log.warning("casva: no shipped weights at %s; starting untrained", path)
            return None
        self.sac.load(path)
        return str(path)

    def with_buffer(self, meta: Meta) -> Meta:
        return meta.model_copy(update={"buffer_size": max(1, math.ceil(meta.fps * self.cfg.segment_s))})

    def knob_position(self, meta: Meta) -> list[float]:
        lad = self.cfg.ladders
        return [lad.index(meta, k) / max(1, lad.size(k) - 1) for k in ("resolution", "fps", "qp")]

    def since_last(self) -> list[TaskFeedback | DropFeedback]:
        """Feedback since the last decision of segments made with its knobs (drops count whatever they had)."""
        items = self.context.history.added_after(self.last_seq)
        return [i for i in items if isinstance(i, DropFeedback) or i.meta.resolution == self.meta.resolution]

    def decide(self, request: PlanRequest) -> Plan:
        if self.golden.due():
            # A profiling segment, not the policy's action: the learner neither sees nor is rewarded for it.
            return self.golden.plan(request, self.meta, self.context.cloud)
        history = self.context.history
        state = state_vector(history.window(16), self.knob_position(self.meta), self.cfg.slo_s)
        outcome = self.since_last()
        if self.last is not None and outcome:
            r = reward(outcome, self.cfg.slo_s, self.cfg.mode, self.cfg.delay_weight, self.golden.estimate)
            self.rewards = [*self.rewards[-99:], r]
            if self.cfg.learn:
                self.sac.remember(self.transition(self.last[0], self.last[1], r, state))
                self.sac.update()
        if self.last is None or outcome:
            action = self.sac.act(state, explore=self.cfg.explore or self.cfg.learn)
            res, fps, qp = self.actions[action]
            lad = self.cfg.ladders
            meta = lad.set(lad.set(lad.set(self.meta, "resolution", res), "fps", fps), "qp", qp)
            self.meta = self.with_buffer(meta)
            self.last = (state, action)
            self.last_seq = history.seq
        return Plan(meta=self.meta.model_copy(deep=True), offload=startup_offload(self, request))

    def transition(self, state: np.ndarray, action: int, reward_: float, next_state: np.ndarray) -> Any:
        from services.scheduler.learning.sac import Transition

        return Transition(state, action, reward_, next_state)

    def info(self) -> dict[str, Any]:
        mean = sum(self.rewards) / len(self.rewards) if self.rewards else None
        return {"weights": self.weights, "updates": self.sac.updates, "reward_mean": mean, "golden": self.golden.info()}
