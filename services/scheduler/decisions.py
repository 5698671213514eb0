"""Decision times of the scheduling policy: a bounded window for percentiles, plus a histogram."""

from __future__ import annotations

from collections import deque

import numpy as np

from common.metrics import ServiceMetrics


class DecisionTimes:
    def __init__(self, window: int, metrics: ServiceMetrics) -> None:
        self._recent: deque[float] = deque(maxlen=window)
        self.count = 0
        self._hist = metrics.histogram(
            "scheduler_decision_seconds",
            "Time the agent took to decide one plan",
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1),
        )

    def record(self, seconds: float) -> None:
        self._recent.append(seconds * 1000.0)
        self.count += 1
        self._hist.observe(seconds)

    def summary(self) -> dict[str, float | int | None]:
        """p50/p95/p99/mean/max in milliseconds over the recent window."""
        if not self._recent:
            return {"count": self.count, "window": 0, "p50": None, "p95": None, "p99": None, "mean": None, "max": None}
        values = np.fromiter(self._recent, float)
        p50, p95, p99 = np.percentile(values, [50, 95, 99])
        return {
            "count": self.count,
            "window": len(values),
            "p50": float(p50),
            "p95": float(p95),
            "p99": float(p99),
            "mean": float(values.mean()),
            "max": float(values.max()),
        }
