"""The scale section's overload figure, computed from rows as the bench writes them."""

from __future__ import annotations

import pytest

from tests.bench.__main__ import verdicts
from tests.bench.streams import overload_ratio, stream_counts

pytestmark = pytest.mark.unit


def rows(rates: dict[int, float]) -> dict[str, dict[str, float]]:
    return {str(n): {"results_per_s": rate} for n, rate in rates.items()}


def test_the_lowest_rate_at_or_past_one_and_a_half_times_the_bound_over_the_best_at_any_count() -> None:
    # Bound 10: 15 and 20 are the overload counts; the best (9.5 at 10 streams) is not one of them.
    got = overload_ratio(rows({4: 5.0, 8: 9.0, 10: 9.5, 12: 9.2, 15: 8.8, 20: 7.6}), 10.0)
    assert got == {
        "ratio": 0.8,
        "counts": [15, 20],
        "worst_count": 20,
        "best_count": 10,
        "best_results_per_s": 9.5,
        "max_x_bound": 2.0,
    }


def test_a_collapse_shows_and_no_overload_count_is_no_figure() -> None:
    collapsed = overload_ratio(rows({8: 9.5, 16: 2.6}), 10.55)
    assert collapsed is not None and collapsed["ratio"] == 0.274 and collapsed["counts"] == [16]
    assert overload_ratio(rows({1: 1.2, 2: 2.5, 4: 5.0}), 10.0) is None  # 4 < 15: not measured
    assert overload_ratio(rows({16: 0.0}), 10.0) is None


@pytest.mark.parametrize("bound", [10.5, 14.78, 30.2])
def test_the_default_counts_step_by_two_and_include_one_and_a_half_and_twice_the_bound(
    bound: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BENCH_SCALE", raising=False)
    counts = stream_counts(False, bound)
    assert {6, 8, 10, 12} <= set(counts) and counts == sorted(set(counts))
    over = [n for n in counts if n >= 1.5 * bound]
    assert over and min(over) < 1.5 * bound + 1 and max(counts) >= 2 * bound
    # so the overload figure is always measured, whatever the machine's bound
    assert overload_ratio({str(n): {"results_per_s": 1.0} for n in counts}, bound) is not None
    monkeypatch.setenv("BENCH_SCALE", "3,1")
    assert stream_counts(False, bound) == [1, 3]


def test_the_overload_target_is_judged() -> None:
    assert "scale.overload_ratio = 0.95 (>= 0.9): met" in verdicts({"scale": {"overload_ratio": 0.95}})
    assert "scale.overload_ratio = 0.274 (>= 0.9): MISSED" in verdicts({"scale": {"overload_ratio": 0.274}})
    assert "scale.overload_ratio >= 0.9: MISSED, not measured" in verdicts({"scale": {}})
