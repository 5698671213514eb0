"""The soak's summary of chromium's memory dumps (``frontend/e2e/memory.mjs`` records, via ``watch.mjs``)."""

from __future__ import annotations

import pytest

from tests.faults.soak import allocator_series, print_browser_allocators


def dump(elapsed: float, renderer_mb: float, spare_mb: float = 10.0) -> dict[str, object]:
    return {
        "kind": "browser",
        "event": "memory",
        "page": "results-cam1",
        "elapsed": elapsed,
        "processes": [
            {"pid": 1, "kind": "Renderer", "footprint_mb": renderer_mb, "allocators_mb": {"malloc": renderer_mb / 2}},
            {"pid": 2, "kind": "Renderer", "footprint_mb": spare_mb, "allocators_mb": {"malloc": 1.0}},
            {"pid": 3, "kind": "Browser", "footprint_mb": 50.0, "allocators_mb": {"cc": 0.2}},
        ],
    }


def test_each_kind_is_summed_over_its_processes_per_dump() -> None:
    records = [dump(0.0, 100.0), {"kind": "browser", "event": "sample", "page": "results-cam1"}, dump(3600.0, 160.0)]
    series = allocator_series(records)
    assert series[("results-cam1", "Renderer", "footprint")] == [(0.0, 110.0), (3600.0, 170.0)]
    assert series[("results-cam1", "Renderer", "malloc")] == [(0.0, 51.0), (3600.0, 81.0)]
    assert series[("results-cam1", "Browser", "footprint")] == [(0.0, 50.0), (3600.0, 50.0)]


def test_the_table_gives_the_settled_slope_and_leaves_out_tiny_allocators(
    capsys: pytest.CaptureFixture[str],
) -> None:
    records = [dump(0.0, 400.0), dump(900.0, 100.0), dump(2700.0, 130.0), dump(4500.0, 160.0)]
    print_browser_allocators(records, settle_s=600.0)
    out = capsys.readouterr().out
    footprint = next(line for line in out.splitlines() if "Renderer" in line and "footprint" in line)
    # Settled (after 10 min): 110 -> 170 MiB over one hour; the 400 MiB start is not part of the slope.
    assert footprint.split()[-3:] == ["410.0", "170.0", "60.0"]
    assert " cc " not in out  # 0.2 MiB throughout


def test_the_dump_after_the_simulated_pressure_is_kept_apart(capsys: pytest.CaptureFixture[str]) -> None:
    before = {**dump(3600.0, 400.0), "phase": "before-pressure"}
    after = {**dump(3610.0, 90.0), "phase": "after-pressure"}
    records = [dump(0.0, 100.0), before, after]
    # The run's series ends with the last dump before the pressure: the relief is not part of the trend.
    assert allocator_series(records)[("results-cam1", "Renderer", "footprint")] == [(0.0, 110.0), (3600.0, 410.0)]
    assert allocator_series(records, "after-pressure")[("results-cam1", "Renderer", "footprint")] == [(3610.0, 100.0)]
    print_browser_allocators(records, settle_s=600.0)
    relief = capsys.readouterr().out.split("simulated critical memory pressure")[1]
    assert any(line.split()[-3:] == ["410.0", "->", "100.0"] for line in relief.splitlines() if "footprint" in line)
