"""``make bench-compare``: two results files of ``make bench`` side by side. A figure is worse only where the
after runs' range lies wholly on the worse side of the before runs' range, the direction comes from the
targets or the figure's name, and floors are never judged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.bench.compare import better_of, compare, main
from tests.bench.measure import spread

pytestmark = pytest.mark.unit


def repeated(*runs: dict[str, Any]) -> dict[str, Any]:
    """A results.json as BENCH_REPEAT writes it: the last run's figures and the spread over all."""
    return {**runs[-1], "repeat": {"runs": len(runs), "spread": spread(list(runs)), "all": list(runs[:-1])}}


def verdict_of(rows: list[Any], key: str) -> str:
    return next(r.verdict for r in rows if r.key == key)


def test_the_direction_comes_from_the_targets_then_the_name() -> None:
    assert better_of("hop_ratio_vs_floor.1MB") == "lower"  # a target: <= 1.3
    assert better_of("hop_ratio_vs_floor.5MB") == "lower"  # a time over its floor, by name
    assert better_of("passthrough_ratio_vs_floor") == "higher"  # a rate over its floor
    assert better_of("e2e_ratio_vs_bound.edge.p50") == "lower"
    assert better_of("scale.max_streams_ratio_vs_bound") == "higher"
    assert better_of("passthrough_cpu_ms_per_task.controller-cloud") == "lower"
    assert better_of("scale.streams.12.results_per_s") == "higher"
    assert better_of("rss_mb.scheduler") == "lower"
    # The floors and the workload's settings are context, whatever their names say.
    assert better_of("chain_floor_cpu_ms_per_task.entry") is None
    assert better_of("hop_floor_ms_p50.1MB") is None
    assert better_of("passthrough_cpu_ms_per_task.bench") is None
    assert better_of("scale.streams.20.drops") is None


def test_overlapping_ranges_are_the_same_and_separate_ones_decide() -> None:
    before = repeated(*({"passthrough_cpu_ms_per_task": {"controller-cloud": v}} for v in (1.2, 1.3, 1.5)))
    overlapping = repeated(*({"passthrough_cpu_ms_per_task": {"controller-cloud": v}} for v in (1.4, 1.6, 1.7)))
    slower = repeated(*({"passthrough_cpu_ms_per_task": {"controller-cloud": v}} for v in (1.6, 1.7, 1.9)))
    faster = repeated(*({"passthrough_cpu_ms_per_task": {"controller-cloud": v}} for v in (0.9, 1.0, 1.1)))
    key = "passthrough_cpu_ms_per_task.controller-cloud"
    assert verdict_of(compare(before, overlapping), key) == "same"
    assert verdict_of(compare(before, slower), key) == "worse"
    assert verdict_of(compare(before, faster), key) == "better"
    # Higher is better for a rate: the same numbers the other way round.
    rate_before = repeated(*({"passthrough_tasks_per_s": v} for v in (100.0, 110.0, 120.0)))
    rate_after = repeated(*({"passthrough_tasks_per_s": v} for v in (80.0, 90.0, 95.0)))
    assert verdict_of(compare(rate_before, rate_after), "passthrough_tasks_per_s") == "worse"


def test_a_single_run_counts_as_a_band_of_the_tolerance() -> None:
    before = {"schedule_ms_p99": 1.0}
    assert verdict_of(compare(before, {"schedule_ms_p99": 1.15}, tolerance=0.10), "schedule_ms_p99") == "same"
    assert verdict_of(compare(before, {"schedule_ms_p99": 1.3}, tolerance=0.10), "schedule_ms_p99") == "worse"
    assert verdict_of(compare(before, {"schedule_ms_p99": 1.3}, tolerance=0.20), "schedule_ms_p99") == "same"


def test_a_figure_gone_after_is_missing_and_a_floor_is_never_judged() -> None:
    before = {"passthrough_ratio_vs_floor": 0.3, "chain_floor_tasks_per_s": 900.0}
    after = {"chain_floor_tasks_per_s": 100.0, "scale": {"overload_ratio": 0.9}}
    rows = compare(before, after)
    assert verdict_of(rows, "passthrough_ratio_vs_floor") == "missing"
    assert verdict_of(rows, "chain_floor_tasks_per_s") == "context"
    assert verdict_of(rows, "scale.overload_ratio") == "new"
    assert next(r.verdict for r in rows) == "missing"  # the rows that need a look come first


def test_the_command_exits_1_on_a_worse_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps({"rss_mb": {"scheduler": 80.0}, "schedule_ms_p99": 1.0}))
    after.write_text(json.dumps({"rss_mb": {"scheduler": 120.0}, "schedule_ms_p99": 1.0}))
    assert main([str(before), str(after)]) == 1
    out = capsys.readouterr().out
    assert "rss_mb.scheduler" in out and "worse" in out and "+50.0%" in out
    assert "schedule_ms_p99" not in out  # unchanged figures only with --all
    assert "1 worse, 0 missing, 0 better, 1 same" in out
    after.write_text(json.dumps({"rss_mb": {"scheduler": 82.0}, "schedule_ms_p99": 0.98}))
    assert main([str(before), str(after)]) == 0


def test_a_file_that_is_not_a_results_file_is_named(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text("{}")
    bad.write_text("[1, 2]")
    with pytest.raises(SystemExit, match=r"bad\.json: not a results\.json"):
        main([str(good), str(bad)])
