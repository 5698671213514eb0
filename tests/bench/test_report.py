"""The bench's report: a figure that is missing or misses its target is said so, and repeated runs give the
spread of every figure."""

from __future__ import annotations

import pytest

from tests.bench.__main__ import verdicts
from tests.bench.measure import flatten, spread

pytestmark = pytest.mark.unit


def test_a_missing_figure_is_reported_as_missed_not_dropped() -> None:
    lines = verdicts({"hop_ratio_vs_floor": {"1MB": 1.9}, "errors": {"passthrough": "TimeoutError: slow"}})
    assert "hop_ratio_vs_floor.1MB = 1.9 (<= 1.3): MISSED" in lines
    missed = "passthrough_ratio_vs_floor >= 0.8: MISSED, not measured (TimeoutError"
    assert any(line.startswith(missed) for line in lines)


def test_a_section_not_selected_is_said_so() -> None:
    lines = verdicts({"hop_ratio_vs_floor": {"1MB": 1.2}}, {"hop"})
    assert "hop_ratio_vs_floor.1MB = 1.2 (<= 1.3): met" in lines
    assert "e2e_ratio_vs_bound.*.p50 <= 1.15: not run (section e2e not selected)" in lines


def test_nan_is_not_a_figure() -> None:
    lines = verdicts({"passthrough_ratio_vs_floor": float("nan")})
    assert "passthrough_ratio_vs_floor >= 0.8: MISSED, not measured (NaN)" in lines


def test_spread_over_runs_counts_a_run_that_missed_a_figure() -> None:
    runs = [
        {"a": {"x": 1.0}, "b": 10, "load": {"hop": {"before": [1.0]}}},
        {"a": {"x": 3.0}, "b": 12},
        {"a": {"x": 2.0}},
    ]
    s = spread(runs)
    assert s["a.x"] == {"min": 1.0, "median": 2.0, "max": 3.0, "range_pct": 100.0, "runs": 3, "of": 3}
    assert s["b"]["runs"] == 2 and s["b"]["of"] == 3
    assert "load.hop.before" not in flatten(runs[0])
