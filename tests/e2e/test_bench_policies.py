"""``dayuctl bench-policies --quick``: each policy on a fresh local install, same workload and trace; the
results, the table and the plots are written and hold the figures of each, with what a reviewer needs to
check them (commit, command, load, seeds, per task the node of each stage). With ``--clip`` on a real file
that has no ground truth, accuracy is scored against the golden configuration's reference."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from backend.local_runtime.runtime import LocalRuntime

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
REAL_CLIP = ROOT / "datasource" / "clips" / "car-detection.mp4"


def _bench(out: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "backend.cli", "bench-policies", "--quick", "--out", str(out), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=280,
        )
    finally:
        # A run cut short by the timeout leaves its deployment behind: its state says what to stop.
        LocalRuntime(out / "run").stop(timeout=5)
    assert done.returncode == 0, done.stderr[-3000:]
    return done, json.loads((out / "results.json").read_text())


def _check_provenance(results: dict[str, Any], figures: dict[str, Any], stage: str) -> None:
    record = results["provenance"]
    assert len(record["commit"]) == 40 and "bench-policies" in record["command"]
    assert record["load_before"]["load_1m"] >= 0 and record["load_after"]["load_1m"] >= 0
    for run in figures["repeats"]:
        assert run["load_before"]["at"] <= run["load_after"]["at"]
        finished = [t for t in run["per_task"] if "dropped" not in t]
        assert finished and all(set(t["stages"]) == {stage} for t in finished)
        assert all(t["stages"][stage] in ("cloud", "edge1") for t in finished)
        assert len(run["per_task"]) == run["tasks"] + run["drops"]  # every finished and every dropped task


def test_quick_policy_benchmark_writes_results_table_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    done, suite = _bench(out, "--seed", "3", "--golden-cache", str(tmp_path / "golden"))
    assert "fixed #1:" in done.stderr and "fc #1:" in done.stderr  # progress while running
    assert "estimated" in done.stderr  # the suite's duration, before it starts
    (key,) = suite["cases"]
    assert suite["tuned_on"] == [key] and suite["held_out"] == []  # step-drop on the synthetic clip: tuning set
    results = suite["cases"][key]
    assert results["settings"]["trace"] == "step-drop" and results["settings"]["seed"] == 3
    assert results["settings"]["trace_replay"] == "replayed on the link from the first result"
    assert results["settings"]["accuracy_reference"] == "ground_truth" and not results["settings"]["held_out"]
    # The edge is weaker than the cloud (a CPU quota), and the results say whether the kernel enforced it.
    cpu = results["settings"]["node_cpu"]
    assert results["settings"]["edge_cpu_quota"] == 0.5 and cpu["nodes"]["edge1"]["cpu_quota"] == 0.5
    assert cpu["nodes"]["cloud"]["cpu_quota"] is None and (cpu["enforced"] or "NOT enforced" in cpu["reason"])
    assert list(results["policies"]) == ["fixed", "fc"]
    for policy, figures in results["policies"].items():
        assert figures["tasks"] > 0, policy
        assert figures["latency_ms_p50"] <= figures["latency_ms_p95"]
        assert 0 <= figures["slo_violation_rate"] <= 1 and 0 <= figures["drop_rate"] <= 1
        assert figures["link_mbytes"] > 0  # the startup plan runs the stage on the cloud: segments cross the link
        # The edge's bandwidth probe shares the link: its bytes are counted, apart and in the link's total.
        assert figures["probe_mbytes"] > 0, figures["repeats"][0].get("probe_unknown")
        assert figures["link_mbytes"] == pytest.approx(figures["task_mbytes"] + figures["probe_mbytes"])
        assert "| probe MB |" in (out / key / "table.md").read_text()
        assert figures["accuracy_f1"] is not None and 0 <= figures["accuracy_f1"] <= 1
        # With ground truth, the golden reference is reported beside it.
        assert figures["accuracy_reference"] == "ground_truth" and 0 <= figures["accuracy_f1_golden"] <= 1
        assert figures["decision_ms_p99"] is not None and figures["decision_ms_p99"] >= 0
        (run,) = figures["repeats"]
        assert run["warmup_s"] > 0 and run["unfinished"] >= 0 and run["plans_received"] > 0
        assert run["seed"] == 3 and 0 <= run["clip_offset_frames"] < 90 and 0 <= run["trace_phase_s"] < 80
        frames = run["accuracy_frames"]["ground_truth"]
        assert frames["frames"] >= frames["frames_processed"] > 0  # every source frame of the window is scored
        _check_provenance(suite, figures, "face")
    assert results["policies"]["fc"]["agent"]["alias"] == "fc"
    assert results["policies"]["fc"]["agent"]["params"]["slo_s"] == 1.0
    table = (out / key / "table.md").read_text()
    assert "| fixed |" in table and "| fc |" in table and "0.5 core(s)" in table
    assert "Used while tuning the agents" in (out / "table.md").read_text()
    for plot in ("latency_cdf.png", "over_time.png", "accuracy_vs_bytes.png"):
        assert (out / key / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", plot


def test_quick_benchmark_on_a_real_clip_without_ground_truth_scores_against_golden(tmp_path: Path) -> None:
    out, cache = tmp_path / "bench", tmp_path / "golden"
    done, suite = _bench(
        out,
        "--clip",
        str(REAL_CLIP),
        "--service",
        "face-detection",
        "--policies",
        "fixed",
        "--golden-cache",
        str(cache),
    )
    assert "golden reference of car-detection from frame" in done.stderr and "face-detection computed" in done.stderr
    (key,) = suite["cases"]
    assert suite["held_out"] == [key]  # a clip the agents were not tuned on
    results = suite["cases"][key]
    settings = results["settings"]
    assert (
        settings["clip"] == "car-detection"
        and settings["clip_frames"] == 377
        and settings["service"] == "face-detection"
    )
    assert settings["accuracy_reference"] == "golden" and settings["golden"]["model"] == "blazeface"
    (cached,) = settings["golden"]["cache"]  # one repeat: one start offset, one reference
    assert (cache / cached).is_file()  # cached for the next run
    figures = results["policies"]["fixed"]
    assert figures["tasks"] > 0 and figures["accuracy_reference"] == "golden"
    assert figures["accuracy_f1"] is not None and 0 <= figures["accuracy_f1"] <= 1
    assert figures["accuracy_f1_ground_truth"] is None and figures["accuracy_f1_tasks"] is None  # no ground truth
    (run,) = figures["repeats"]
    assert run["accuracy_frames"]["golden"]["frames"] > 0 and "ground_truth" not in run["accuracy_frames"]
    _check_provenance(suite, figures, "face")
    assert "against the golden configuration" in (out / key / "table.md").read_text()
