"""``hei-nf``: the micro negative-feedback loop of the hierarchical ``hei`` policy, alone (no learning).

Every few tasks made with the current configuration, the mean delay is compared with the constraint:
above it, every adapted knob steps down one rung (or its index is halved); well under it (below
``slack`` times the constraint) one knob steps up, the knobs taking turns. The constraint is either a
task delay (``slo_s``) or, as in the original formulation, per frame: ``frame_factor / fps`` seconds.

"Tasks made with the current configuration" are the feedback received since the last judged window (by the
scheduler's receipt order, never by a timestamp stamped on another node) whose adapted knobs are the current
ones; drops with unknown knobs count too.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from common.feedback import TaskFeedback
from common.plan import Plan, PlanRequest
from common.registry import HookConfig, hook
from common.task import Meta
from services.scheduler.agent import FAMILY, Agent, AgentConfig, AgentContext, startup_offload
from services.scheduler.history import SourceHistory
from services.scheduler.knobs import Ladders

Knob = Literal["resolution", "fps", "qp", "buffer_size"]
DEFAULT_KNOBS: tuple[Knob, ...] = ("resolution", "fps")


class MicroConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slo_s: float | None = Field(None, gt=0, description="Delay constraint of one task; null: per frame, see below.")
    frame_factor: float = Field(1.6, gt=0, description="Per-frame constraint is frame_factor / fps seconds.")
    every: int = Field(4, ge=1, le=1000, description="Tasks made with the current configuration per decision.")
    slack: float = Field(0.6, gt=0, lt=1, description="Step up when the mean delay is below slack x constraint.")
    retreat: Literal["step", "halve"] = Field("halve", description="On a violation: one rung down, or halve.")
    knobs: list[Knob] = Field(
        default_factory=lambda: list(DEFAULT_KNOBS), min_length=1, description="Knobs moved, in turn for steps up."
    )
    ladders: Ladders = Field(default_factory=Ladders, description="Values the knobs may take, cheapest first.")


class MicroController:
    """The negative-feedback loop; :meth:`step` returns the next knobs (unchanged when it holds)."""

    def __init__(self, config: MicroConfig) -> None:
        self.config = config
        self.judged_seq = 0  # receipt number of the last feedback the last judged window could hold
        self._turn = 0
        self.last_ratio: float | None = None

    def constraint(self, meta: Meta) -> float:
        """Delay allowed for one task made with ``meta``."""
        cfg = self.config
        if cfg.slo_s is not None:
            return cfg.slo_s
        return cfg.frame_factor / meta.fps * meta.buffer_size

    def window(self, history: SourceHistory, meta: Meta) -> list[TaskFeedback]:
        made = [f for f in history.tasks_after(self.judged_seq) if _same(f.meta, meta, self.config.knobs)]
        return made[-self.config.every :]

    def step(self, history: SourceHistory, meta: Meta) -> Meta:
        cfg = self.config
        window = self.window(history, meta)
        drops = [d for d in history.drops_after(self.judged_seq) if d.meta is None or _same(d.meta, meta, cfg.knobs)]
        if len(window) + len(drops) < cfg.every:
            return meta
        delays = [f.delay for f in window] + [2 * self.constraint(meta)] * len(drops)
        ratio = sum(delays) / len(delays) / self.constraint(meta)
        self.last_ratio = ratio
        ladders = cfg.ladders
        out = meta
        if ratio > 1:
            for knob in cfg.knobs:
                index = ladders.index(out, knob)
                out = ladders.set(out, knob, index // 2 if cfg.retreat == "halve" else index - 1)
        elif ratio < cfg.slack:
            for offset in range(len(cfg.knobs)):
                knob = cfg.knobs[(self._turn + offset) % len(cfg.knobs)]
                index = ladders.index(out, knob)
                if index < ladders.size(knob) - 1:
                    out = ladders.set(out, knob, index + 1)
                    self._turn = (self._turn + offset + 1) % len(cfg.knobs)
                    break
        # A judged window is used once: the next decision waits for fresh tasks even when nothing moved.
        self.judged_seq = history.seq
        return out


def _same(a: Meta, b: Meta, knobs: list[Knob]) -> bool:
    return all(getattr(a, k) == getattr(b, k) for k in knobs)


class HeiNfConfig(AgentConfig):
    micro: MicroConfig = Field(default_factory=MicroConfig, description="The negative-feedback loop.")


@hook(FAMILY, "hei-nf")
class HeiNfAgent(Agent):
    """Knobs down on delay violations, up with slack; placement as in the startup plan."""

    Config = HeiNfConfig

    def __init__(self, config: HookConfig, *, context: AgentContext) -> None:
        super().__init__(config, context=context)
        assert isinstance(config, HeiNfConfig)
        self.micro = MicroController(config.micro)
        self.meta = self.knobs()

    def decide(self, request: PlanRequest) -> Plan:
        self.meta = self.micro.step(self.context.history, self.meta)
        return Plan(meta=self.meta.model_copy(deep=True), offload=startup_offload(self, request))
