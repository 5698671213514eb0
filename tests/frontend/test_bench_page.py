"""The Policy benchmark page in a real browser against a real backend: a multi-case suite merged into one
table, a case's drill-down, the message for a results file that does not parse, the empty state.

Debian's chromium, headless, driven by playwright-core (`frontend/e2e/bench.mjs`), opens the dashboard built
from the current sources (into the test's temporary directory) and served by the backend's app under
uvicorn on loopback. The suite's files are written by the benchmark's own writer (tests/frontend/bench_suite.py:
two traces x two clips x three policies x two seeds; figures drawn from a seeded generator, since no
platform runs here). Every number the page should show is computed here from the `results.json` on disk.
With DAYU_DASHBOARD_SHOTS=<dir> the suite's screenshot is copied there as `bench.png` (docs/dashboard/).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.app import create_app
from tests.frontend.bench_suite import POLICIES, PROBE_UNKNOWN, REPEAT, SEED, write_suite
from tests.frontend.test_backend_routes import TOKEN, png, settings
from tests.servers import serve

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
FRONTEND = REPO / "frontend"
CHROMIUM = Path(os.environ.get("DAYU_CHROMIUM", "/usr/bin/chromium"))
# The summary's figures per case, in column order, with the unit each is written in (frontend/src/lib/benchSuite.ts).
FIGURES = (
    ("accuracy_f1", "f1"),
    ("latency_ms_p95", "ms"),
    ("link_mbytes", "mb"),
    ("probe_mbytes", "mb"),
    ("drop_rate", "share"),
)
DIGITS = {"f1": 3, "ms": 0, "mb": 2}
REFERENCE = {"ground_truth": "ground truth", "golden": "golden"}
OTHER_F1 = {"ground truth": "accuracy_f1_ground_truth", "golden": "accuracy_f1_golden"}
UNKNOWN = "\N{EN DASH}"  # what the page writes for a figure no run has


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dashboard built from the current sources, apart from the shared frontend/dist."""
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed: the dashboard cannot be built (hack/setup.sh says so too)")
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing: hack/system-deps.sh installs Debian's chromium")
    if not (FRONTEND / "node_modules" / ".bin" / "vite").is_file():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=FRONTEND, check=True, timeout=600)
    out = tmp_path_factory.mktemp("dashboard") / "dist"
    built = subprocess.run(
        ["npx", "vite", "build", "--outDir", str(out), "--emptyOutDir", "--logLevel", "warn"],
        cwd=FRONTEND, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert (out / "index.html").is_file()
    return out


@pytest.fixture
def backend(tmp_path: Path, dist: Path) -> Iterator[str]:
    with serve(create_app(settings(tmp_path, dist))) as url:
        yield url


def bench_folder(tmp_path: Path) -> Path:
    # Where the backend of settings() looks: <dayu dir>/bench/policies beside its state dir.
    return tmp_path / "dayu" / "bench" / "policies"


def see(url: str, mode: str, tmp_path: Path) -> dict[str, Any]:
    seen = tmp_path / f"seen-{mode}.json"
    env = {
        **os.environ,
        "DAYU_URL": url,
        "DAYU_TOKEN": TOKEN,
        "DAYU_SEEN": str(seen),
        "DAYU_BENCH_MODE": mode,
        "DAYU_SHOTS": str(tmp_path / "shots"),
        "DAYU_CHROMIUM": str(CHROMIUM),
    }
    run = subprocess.run(
        ["node", "e2e/bench.mjs"], cwd=FRONTEND, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    page: dict[str, Any] = json.loads(seen.read_text())
    assert page["pageErrors"] == []
    return page


def written(value: float, unit: str) -> str:
    return f"{value * 100:.1f}%" if unit == "share" else f"{value:.{DIGITS[unit]}f}"


def merged(runs: list[dict[str, Any]], figure: str, unit: str) -> str:
    """What the summary should say for one figure over a policy's runs: mean ± half the spread."""
    known = [r[figure] for r in runs if r.get(figure) is not None]
    if not known:
        return UNKNOWN
    text = written(statistics.fmean(known), unit)
    if len(known) > 1:
        text += f" ± {written((max(known) - min(known)) / 2, unit)}"
    if len(known) < len(runs):
        text += f" ({len(known)} of {len(runs)} runs)"
    return text


def test_a_suite_is_merged_per_policy_and_case_and_each_case_drills_down(backend: str, tmp_path: Path) -> None:
    folder = bench_folder(tmp_path)
    write_suite(folder, png(64, 32))
    suite = json.loads((folder / "results.json").read_text())
    order = [*suite["held_out"], *suite["tuned_on"]]
    assert len(order) == 4 and suite["held_out"] and suite["tuned_on"]

    page = see(backend, "suite", tmp_path)
    summary = page["summary"]

    # One column group per case, held out first and marked, the accuracy's reference named per case.
    assert [c["key"] for c in summary["cases"]] == order
    for head in summary["cases"]:
        case = suite["cases"][head["key"]]["settings"]
        assert head["title"] == f"{case['trace']} · {case['clip']} / {case['service']}"
        assert head["held"] == ("held out" if head["key"] in suite["held_out"] else "tuned on")
    accuracy_heads = {h["case"]: h["text"] for h in summary["figures"] if h["figure"] == "accuracy_f1"}
    assert accuracy_heads == {
        key: f"F1 vs {REFERENCE[suite['cases'][key]['settings']['accuracy_reference']]}" for key in order
    }
    assert set(accuracy_heads.values()) == {"F1 vs ground truth", "F1 vs golden"}

    # One row per policy; every cell the mean ± half the spread over the case's seeds, from the file's runs.
    assert summary["policies"] == list(POLICIES)
    cells = {(c["policy"], c["case"], c["figure"]): c["text"] for c in summary["cells"]}
    assert len(cells) == len(summary["cells"]) == len(POLICIES) * len(order) * len(FIGURES)
    for key in order:
        for policy in POLICIES:
            runs = suite["cases"][key]["policies"][policy]["repeats"]
            assert len(runs) == REPEAT
            for figure, unit in FIGURES:
                assert cells[(policy, key, figure)] == merged(runs, figure, unit), (policy, key, figure)
    unknown_case, unknown_policy, _ = PROBE_UNKNOWN
    assert cells[(unknown_policy, unknown_case, "link_mbytes")].endswith("(1 of 2 runs)")
    assert " ± " in cells[("fixed", order[0], "accuracy_f1")]

    # Drill-down: the first case before any choice, then each case from the select, the last from its title.
    assert page["initial"]["key"] == order[0]
    assert [d["key"] for d in page["details"]] == order
    assert page["selectValue"] == order[-1]
    for shown in page["details"]:
        key = shown["key"]
        case = suite["cases"][key]
        reference = REFERENCE[case["settings"]["accuracy_reference"]]
        assert shown["held"] == ("held out" if key in suite["held_out"] else "tuned on")
        assert shown["reference"] == reference
        other = next(name for name in REFERENCE.values() if name != reference)
        assert shown["head"][:3] == ["policy", "seed", f"F1 vs {reference}"]
        assert shown["head"].count(f"F1 vs {reference}") == 1 and f"F1 vs {other}" in shown["head"]
        assert shown["seeds"] == ", ".join(str(SEED + r) for r in range(REPEAT))
        assert shown["plots"] == [f"{key}--latency_cdf.png"]
        expected = [(p, r) for p in POLICIES for r in case["policies"][p]["repeats"]]
        assert len(shown["runs"]) == len(expected)
        for row, (policy, run) in zip(shown["runs"], expected, strict=True):
            assert (row["policy"], row["seed"]) == (policy, str(run["seed"]))
            assert row["cells"][1] == written(run["accuracy_f1"], "f1")
            at = {title: i - 1 for i, title in enumerate(shown["head"])}  # the policy heads the row, as a <th>
            for title, figure, unit in ((f"F1 vs {other}", OTHER_F1[other], "f1"), ("link MB", "link_mbytes", "mb")):
                assert row["cells"][at[title]] == (UNKNOWN if run[figure] is None else written(run[figure], unit))
            assert (row["title"] is not None) == (run["probe_unknown"] is not None)
    assert "Held out" in page["table"]  # table.md beside it, as the benchmark wrote it

    target = os.environ.get("DAYU_DASHBOARD_SHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "shots" / "bench.png", Path(target) / "bench.png")


def test_a_results_file_that_does_not_parse_is_said_so(backend: str, tmp_path: Path) -> None:
    folder = bench_folder(tmp_path)
    folder.mkdir(parents=True)
    (folder / "results.json").write_text('{"cases": {"step-drop--synthetic--face-detection": ')
    page = see(backend, "error", tmp_path)
    assert page["error"].startswith("results.json does not parse as JSON: Expecting value: line 1"), page["error"]
    assert page["summaryShown"] == 0


def test_no_benchmark_yet_is_an_empty_state(backend: str, tmp_path: Path) -> None:
    page = see(backend, "empty", tmp_path)
    assert "make bench-policies" in page["state"]
    assert page["errorShown"] == 0
