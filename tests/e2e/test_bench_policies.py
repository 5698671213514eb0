"""``dayuctl bench-policies --quick``: two policies, each on a fresh local install, same workload and trace;
the results, the table and the plots are written and hold the figures of both."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.local.runtime import LocalRuntime

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_quick_policy_benchmark_writes_results_table_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "backend.cli", "bench-policies", "--quick", "--out", str(out), "--seed", "3"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=280,
        )
    finally:
        # A run cut short by the timeout leaves its deployment behind: its state says what to stop.
        LocalRuntime(out / "run").stop(timeout=5)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "fixed #1:" in done.stderr and "fc #1:" in done.stderr  # progress while running
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["trace"] == "step-drop" and results["settings"]["seed"] == 3
    assert results["settings"]["trace_replay"] == "replayed on the link from the first result"
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
        assert figures["accuracy_f1"] is not None and 0 <= figures["accuracy_f1"] <= 1
        assert figures["decision_ms_p99"] is not None and figures["decision_ms_p99"] >= 0
        (run,) = figures["repeats"]
        assert run["warmup_s"] > 0 and run["unfinished"] >= 0 and run["plans_received"] > 0
    assert results["policies"]["fc"]["agent"]["alias"] == "fc"
    assert results["policies"]["fc"]["agent"]["params"]["slo_s"] == 1.0
    table = (out / "table.md").read_text()
    assert "| fixed |" in table and "| fc |" in table and "0.5 core(s)" in table
    for plot in ("latency_cdf.png", "over_time.png", "accuracy_vs_bytes.png"):
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", plot
