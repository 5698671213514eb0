"""``fc``: the delay-feedback controller of "Better Never Than Late: Timely Edge Video Analytics over the
Air" (Nigade et al., SenSys 2021).

Over a window of recent per-task delays ``d`` against the constraint ``D``, each task's error is
``-|d - D|`` when it met the constraint and ``(d - D)^2`` when it missed it. When the window's mean error
is ``<= -theta`` the resolution steps up one rung; when it is ``>= 0`` the resolution index is halved (a
fast retreat); otherwise it holds. Optionally fps follows the same rule on its own ladder.

Only feedback received after the last change and made with the knobs it set counts (drops whose knobs are
unknown count too), so the controller judges each configuration by its own delays. "After" is the
scheduler's receipt order (:class:`~services.scheduler.history.SourceHistory`), not a timestamp stamped on
another node; the knobs keep out tasks still in flight from before the change.
"""

from __future__ import annotations

from pydantic import Field

from common.feedback import DropFeedback, TaskFeedback
from common.plan import Plan, PlanRequest
from common.registry import HookConfig, hook
from services.scheduler.agent import FAMILY, Agent, AgentConfig, AgentContext, startup_offload
from services.scheduler.knobs import Ladders


class FcConfig(AgentConfig):
    slo_s: float = Field(1.0, gt=0, le=600, description="Delay constraint D of one task (segment), seconds.")
    per_frame: bool = Field(False, description="Judge delay per frame (task delay / frames) against D instead.")
    theta_s: float = Field(0.1, gt=0, description="Step up only when the mean error is at most -theta (seconds).")
    window: int = Field(8, ge=1, le=1000, description="Tasks (made with the current configuration) in the window.")
    min_tasks: int = Field(3, ge=1, le=1000, description="Tasks needed since the last change before deciding.")
    drop_delay_factor: float = Field(
        2.0, ge=1, description="A dropped task counts as a delay of this many times D (it never met it)."
    )
    adapt_fps: bool = Field(False, description="Also move fps by the same rule.")
    ladders: Ladders = Field(default_factory=Ladders, description="Values the knobs may take, cheapest first.")


def task_error(delay: float, slo: float) -> float:
    """The paper's per-task error: negative slack under the constraint, squared excess over it."""
    return -abs(delay - slo) if delay <= slo else (delay - slo) ** 2


def next_index(index: int, mean_error: float, theta: float, top: int) -> int:
    if mean_error >= 0:
        return index // 2
    if mean_error <= -theta:
        return min(top, index + 1)
    return index


@hook(FAMILY, "fc")
class FcAgent(Agent):
    """Steps the resolution up with slack, halves its index on delay violations."""

    Config = FcConfig

    def __init__(self, config: HookConfig, *, context: AgentContext) -> None:
        super().__init__(config, context=context)
        self.meta = self.knobs()
        self.changed_seq = 0  # receipt number of the last feedback before the last change
        self.last_error: float | None = None

    @property
    def cfg(self) -> FcConfig:
        assert isinstance(self.config, FcConfig)
        return self.config

    def delay_of(self, feedback: TaskFeedback) -> float:
        return feedback.delay / max(1, feedback.frames) if self.cfg.per_frame else feedback.delay

    def made_now(self, feedback: TaskFeedback | DropFeedback) -> bool:
        """Made with the knobs this controller set last (tasks in flight at a change are not judged); a drop
        whose knobs are unknown counts."""
        meta = feedback.meta
        return meta is None or (meta.resolution == self.meta.resolution and meta.fps == self.meta.fps)

    def window_errors(self) -> list[float]:
        cfg = self.cfg
        history = self.context.history
        current = [f for f in history.tasks_after(self.changed_seq) if self.made_now(f)]
        errors = [task_error(self.delay_of(f), cfg.slo_s) for f in current]
        drops = [d for d in history.drops_after(self.changed_seq) if self.made_now(d)]
        errors += [task_error(cfg.drop_delay_factor * cfg.slo_s, cfg.slo_s) for _ in drops]
        return errors[-cfg.window :]

    def decide(self, request: PlanRequest) -> Plan:
        cfg = self.cfg
        errors = self.window_errors()
        if len(errors) >= cfg.min_tasks:
            mean_error = sum(errors) / len(errors)
            self.last_error = mean_error
            knobs = ["resolution", "fps"] if cfg.adapt_fps else ["resolution"]
            meta = self.meta
            for knob in knobs:
                index = cfg.ladders.index(meta, knob)
                meta = cfg.ladders.set(
                    meta, knob, next_index(index, mean_error, cfg.theta_s, cfg.ladders.size(knob) - 1)
                )
            if meta != self.meta:
                self.meta = meta
                self.changed_seq = self.context.history.seq
        return Plan(meta=self.meta.model_copy(deep=True), offload=startup_offload(self, request))
