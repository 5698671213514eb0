"""The bounded per-source history of feedback that agents read."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from common.feedback import DropFeedback, TaskFeedback


class SourceHistory:
    """Recent task feedback and drops of one source, oldest first; bounded by ``capacity`` each."""

    def __init__(self, capacity: int = 256) -> None:
        self.tasks: deque[TaskFeedback] = deque(maxlen=capacity)
        self.drops: deque[DropFeedback] = deque(maxlen=capacity)
        self.task_count = 0
        self.drop_count = 0
        self.arrivals: deque[tuple[int, TaskFeedback | DropFeedback]] = deque(maxlen=2 * capacity)

    @property
    def seq(self) -> int:
        """How many feedbacks arrived so far (tasks and drops)."""
        return self.task_count + self.drop_count

    def added_after(self, seq: int) -> list[TaskFeedback | DropFeedback]:
        """Feedback that arrived after the ``seq``-th, in arrival order (task ids may restart; this does not)."""
        return [item for n, item in self.arrivals if n > seq]

    def window(self, n: int) -> list[TaskFeedback | DropFeedback]:
        """The last ``n`` arrivals of either kind."""
        return [item for _, item in list(self.arrivals)[-n:]] if n > 0 else []

    def add(self, feedback: TaskFeedback | DropFeedback) -> None:
        self.arrivals.append((self.seq + 1, feedback))
        if isinstance(feedback, TaskFeedback):
            self.tasks.append(feedback)
            self.task_count += 1
        else:
            self.drops.append(feedback)
            self.drop_count += 1

    def recent(self, n: int) -> list[TaskFeedback]:
        """The last ``n`` task feedbacks (fewer when fewer arrived)."""
        if n <= 0:
            return []
        return list(self.tasks)[-n:]

    def since(self, at: float) -> list[TaskFeedback]:
        """Task feedback of segments created at or after wall-clock ``at``."""
        return [f for f in self.tasks if f.created_at >= at]

    def drops_since(self, at: float) -> list[DropFeedback]:
        return [d for d in self.drops if d.at >= at]

    def summary(self) -> dict[str, float | int | None]:
        recent = self.recent(32)
        return {
            "tasks": self.task_count,
            "drops": self.drop_count,
            "kept": len(self.tasks),
            "delay_mean_s": _mean(f.delay for f in recent),
            "accuracy_mean": _mean(f.accuracy for f in recent if f.accuracy is not None),
        }


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return sum(items) / len(items) if items else None
