"""The bounded per-source history of feedback that agents read.

Every feedback is numbered as the scheduler receives it (its receipt number, ``seq``). "Feedback that came
after my change" is asked by that number, never by a timestamp the feedback carries: those are stamped on
other nodes (the generator's ``created_at``, a controller's or processor's drop ``at``), whose clocks may
differ from the scheduler's by seconds, so comparing them with the scheduler's clock would make an agent
ignore every new feedback (a node behind) or judge a new configuration by old tasks (a node ahead).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from common.feedback import DropFeedback, TaskFeedback


class SourceHistory:
    """Recent task feedback and drops of one source, oldest first, each with its receipt number; bounded by
    ``capacity`` each."""

    def __init__(self, capacity: int = 256) -> None:
        self._tasks: deque[tuple[int, TaskFeedback]] = deque(maxlen=capacity)
        self._drops: deque[tuple[int, DropFeedback]] = deque(maxlen=capacity)
        self.task_count = 0
        self.drop_count = 0
        self.arrivals: deque[tuple[int, TaskFeedback | DropFeedback]] = deque(maxlen=2 * capacity)

    @property
    def seq(self) -> int:
        """Receipt number of the latest feedback (tasks and drops; 0 before any): an agent keeps it at a
        change and later asks for what came after it."""
        return self.task_count + self.drop_count

    def added_after(self, seq: int) -> list[TaskFeedback | DropFeedback]:
        """Feedback received after the ``seq``-th, in arrival order (task ids may restart; this does not)."""
        return [item for n, item in self.arrivals if n > seq]

    def tasks_after(self, seq: int) -> list[TaskFeedback]:
        """Task feedback received after the ``seq``-th feedback, oldest first."""
        return [item for n, item in self._tasks if n > seq]

    def drops_after(self, seq: int) -> list[DropFeedback]:
        """Drops received after the ``seq``-th feedback, oldest first."""
        return [item for n, item in self._drops if n > seq]

    def window(self, n: int) -> list[TaskFeedback | DropFeedback]:
        """The last ``n`` arrivals of either kind."""
        return [item for _, item in list(self.arrivals)[-n:]] if n > 0 else []

    def add(self, feedback: TaskFeedback | DropFeedback) -> None:
        seq = self.seq + 1
        self.arrivals.append((seq, feedback))
        if isinstance(feedback, TaskFeedback):
            self._tasks.append((seq, feedback))
            self.task_count += 1
        else:
            self._drops.append((seq, feedback))
            self.drop_count += 1

    def recent(self, n: int) -> list[TaskFeedback]:
        """The last ``n`` task feedbacks (fewer when fewer arrived)."""
        if n <= 0:
            return []
        return [item for _, item in list(self._tasks)[-n:]]

    def summary(self) -> dict[str, float | int | None]:
        recent = self.recent(32)
        return {
            "tasks": self.task_count,
            "drops": self.drop_count,
            "kept": len(self._tasks),
            "delay_mean_s": _mean(f.delay for f in recent),
            "accuracy_mean": _mean(f.accuracy for f in recent if f.accuracy is not None),
        }


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return sum(items) / len(items) if items else None
