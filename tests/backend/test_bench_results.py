"""The policy benchmark's results.json read for the dashboard: a suite's cases in the order it lists them,
each policy's figures merged over its runs, a one-case file from before the suite, and a clear message for
a file that is not a benchmark's results."""

from __future__ import annotations

import copy
import json
import os
import statistics
from pathlib import Path
from typing import Any

import pytest

from backend import bench_results
from common.errors import InvalidInput
from tests.backend.conftest import RunningBackend
from tests.frontend.bench_suite import PROBE_UNKNOWN, write_suite
from tests.frontend.test_backend_routes import png

pytestmark = pytest.mark.unit


@pytest.fixture
def suite(tmp_path: Path) -> dict[str, Any]:
    return write_suite(tmp_path, png())


def test_cases_come_held_out_first_with_each_figure_merged_over_the_runs(suite: dict[str, Any]) -> None:
    merged = bench_results.parse(suite, ["x.png"])
    assert merged.layout == "suite" and merged.commit == suite["provenance"]["commit"]
    assert [c.key for c in merged.cases] == [*suite["held_out"], *suite["tuned_on"]]
    assert [c.held_out for c in merged.cases] == [True] * len(suite["held_out"]) + [False] * len(suite["tuned_on"])
    for case in merged.cases:
        written = suite["cases"][case.key]
        assert case.accuracy_reference == written["settings"]["accuracy_reference"]
        assert case.seeds == [7, 8]
        for policy in case.policies:
            runs = written["policies"][policy.policy]["repeats"]
            values = [r["latency_ms_p95"] for r in runs]
            assert policy.figures.latency_ms_p95.mean == pytest.approx(statistics.fmean(values))
            assert policy.figures.latency_ms_p95.spread == pytest.approx(max(values) - min(values))
            assert [r.seed for r in policy.runs] == [r["seed"] for r in runs]
    unknown_case, unknown_policy, _ = PROBE_UNKNOWN
    case = next(c for c in merged.cases if c.key == unknown_case)
    link = next(p for p in case.policies if p.policy == unknown_policy).figures.link_mbytes
    assert link.runs == 1 and link.spread is None  # the run whose probe bytes are unknown counts for nothing


def test_a_one_case_file_from_before_the_suite_is_one_case_with_every_plot() -> None:
    old = {
        "settings": {"trace": "step-drop", "duration_s": 70.0, "slo_ms": 1000.0},
        "policies": {"fixed": {"accuracy_f1": 0.9, "repeats": [{"accuracy_f1": 0.9, "tasks": 158}]}},
    }
    merged = bench_results.parse(old, ["latency_cdf.png", "over_time.png"])
    assert merged.layout == "single" and merged.policies == ["fixed"]
    (case,) = merged.cases
    assert (case.key, case.held_out, case.accuracy_reference) == ("step-drop", None, None)
    assert case.plots == ["latency_cdf.png", "over_time.png"]
    assert case.policies[0].figures.accuracy_f1.mean == 0.9 and case.policies[0].figures.accuracy_f1.spread is None


def test_what_is_not_a_benchmark_result_is_said_where(suite: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="holds neither `cases`"):
        bench_results.parse({"fixed": {"delay_p50": 0.2}}, [])
    with pytest.raises(InvalidInput, match="not a JSON object but list"):
        bench_results.parse([1, 2], [])
    broken = copy.deepcopy(suite)
    key = suite["held_out"][0]
    broken["cases"][key]["policies"]["fc"]["repeats"][1]["seed"] = "eight"
    with pytest.raises(
        InvalidInput, match=rf"cases\.{key}\.policies\.fc\.repeats\.1\.seed: Input should be a valid integer"
    ):
        bench_results.parse(broken, [])
    listed = copy.deepcopy(suite)
    listed["tuned_on"].append("gone")
    with pytest.raises(InvalidInput, match="lists case\\(s\\) gone that `cases` does not hold"):
        bench_results.parse(listed, [])
    odd = copy.deepcopy(suite)
    odd["cases"][key]["settings"]["accuracy_reference"] = "vibes"
    with pytest.raises(InvalidInput, match="unknown accuracy reference 'vibes'"):
        bench_results.parse(odd, [])
    text = tmp_path / "results.json"
    text.write_text("{not json")
    with pytest.raises(InvalidInput, match=r"results\.json does not parse as JSON: Expecting property name"):
        bench_results.BenchResultsFile().load(text, [])


def _stamp(path: Path, mtime_ns: int) -> None:
    # The test sets each mtime itself: a rewrite within the file system's timestamp tick is not told apart
    # by the clock, and the test must not depend on how fast it runs.
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_an_unchanged_file_is_parsed_once_and_a_changed_one_again(suite: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(suite))
    _stamp(path, 1_000_000_000_000)
    reader = bench_results.BenchResultsFile()
    before = reader.parses
    first = reader.load(path, ["x.png"])
    assert reader.parses == before + 1
    assert reader.load(path, ["x.png"]) is first  # unchanged: the kept answer, not parsed again
    assert reader.parses == before + 1

    # Rewritten in place, same size, another mtime: read again, with what it says now.
    changed = copy.deepcopy(suite)
    changed["provenance"]["commit"] = "f" * 40
    path.write_text(json.dumps(changed))
    assert path.stat().st_size == len(json.dumps(suite))
    _stamp(path, 2_000_000_000_000)
    second = reader.load(path, ["x.png"])
    assert reader.parses == before + 2
    assert first.commit == suite["provenance"]["commit"] and second.commit == "f" * 40

    # Replaced by another file of the same size and mtime: the inode tells it apart.
    other = tmp_path / "next.json"
    other.write_text(json.dumps(suite))
    _stamp(other, 2_000_000_000_000)
    os.replace(other, path)
    assert reader.load(path, ["x.png"]) is not second
    assert reader.parses == before + 3

    # Other plots beside it: the answer names them, so it is made again.
    assert reader.load(path, ["y.png"]).cases[0].plots == []
    assert reader.parses == before + 4

    # Removed: as without a cache, the file's absence, and nothing of it kept.
    path.unlink()
    with pytest.raises(FileNotFoundError):
        reader.load(path, ["y.png"])
    assert reader.parses == before + 4


def test_a_file_that_is_not_a_result_is_said_so_again_without_parsing_again(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text("{not json")
    reader = bench_results.BenchResultsFile()
    for _ in range(2):
        with pytest.raises(InvalidInput, match=r"results\.json does not parse as JSON"):
            reader.load(path, [])
    assert reader.parses == 1


@pytest.mark.integration
def test_the_bench_route_parses_once_per_version_of_the_file(backend: RunningBackend, tmp_path: Path) -> None:
    """The dashboard's route on a real backend (uvicorn in this process, so its parse count is visible)."""
    folder = tmp_path / "bench" / "policies"  # <dayu dir>/bench/policies beside the backend's state dir
    folder.mkdir(parents=True)
    write_suite(folder, png())
    reader = backend.app.state.plane.bench_results  # the one the route reads through
    before = reader.parses
    with backend.client() as c:
        pages = [c.get("/api/bench/policies").json() for _ in range(3)]
        assert all(p["suite"] is not None and p["error"] is None for p in pages), pages[0]["error"]
        assert pages[0]["suite"] == pages[2]["suite"]
        assert reader.parses == before + 1
        (folder / "results.json").write_text('{"cases": ')
        broken = c.get("/api/bench/policies").json()
        assert broken["suite"] is None and broken["error"].startswith("results.json does not parse as JSON")
        assert reader.parses == before + 2
        (folder / "results.json").unlink()
        gone = c.get("/api/bench/policies").json()
    assert gone["results_file"] is False and gone["suite"] is None and gone["error"] is None
    assert reader.parses == before + 2
