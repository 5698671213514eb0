"""End to end: chameleon ranks configurations from golden labels, with no ground truth on the way.

One cloud and one edge node as real processes (local runtime), a synthetic 720p clip looping on the edge
whose ground truth is NOT given to the generator (so no task carries any), one face-detection stage, the
real scheduler running ``chameleon``. Its profiling decision makes a golden segment that the generator
encodes, the controller routes to the cloud processor, the processor labels in-band against its golden
model, and the distributor's feedback carries the labels back; the agent ranks and serves a shortlisted
configuration. The edge processor, not allowed to label, never does. Nothing is faked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.benchpolicies import workload as wl
from backend.local_runtime.runtime import LocalRuntime
from tests.e2e.cluster import wait_until

pytestmark = pytest.mark.e2e

LADDERS = {"resolution": ["360p", "540p", "720p"], "fps": [1.0, 2.0]}
STARTUP = {"resolution": "540p", "fps": 2.0, "encoding": "h264", "qp": 23, "buffer_size": 2}


def test_chameleon_serves_a_configuration_ranked_by_golden_labels(tmp_path: Path) -> None:
    clip, truth = wl.prepare_clip(tmp_path / "clip", seed=5, frames=60)
    agent = {
        "alias": "chameleon",
        "params": {
            "ladders": LADDERS,
            "target": 0.5,
            "top_k": 2,
            "profile_window_s": 600,
            "recheck_s": 600,
            "probe_timeout_s": 60,
        },
    }
    works = wl.workloads(agent=agent, startup=STARTUP, clip=clip, truth=truth, seed=5)
    for work in works:
        if work.component == "generator":
            del work.config["source"]["params"]["truth_path"]  # no ground truth anywhere
    rt = LocalRuntime(tmp_path / "run")
    rt.start({wl.CLOUD: {"role": "cloud"}, wl.EDGE: {"role": "edge"}}, [wl.link(None, 50.0)], works, timeout=90)
    try:
        with httpx.Client(timeout=10, trust_env=False) as client:
            scheduler = rt.url("scheduler")

            def ranked() -> dict[str, Any] | None:
                info: dict[str, Any] = client.get(f"{scheduler}/stats").json()["agent_info"].get(wl.SOURCE, {})
                return info if info.get("rounds", 0) >= 1 else None

            info = wait_until(ranked, timeout=150, what="chameleon's first golden-labelled profile")
            cloud = client.get(f"{rt.url(f'proc-face-{wl.CLOUD}')}/model").json()
            edge = client.get(f"{rt.url(f'proc-face-{wl.EDGE}')}/model").json()
            generator = rt.url(f"gen-{wl.SOURCE}")

            shortlist = [k[:2] for k in info["shortlist"]]

            def served() -> dict[str, Any] | None:
                # The generator asks for a plan every second: the one in force follows the ranking shortly.
                meta: dict[str, Any] = client.get(f"{generator}/status").json()["plan"]["meta"]
                return meta if [meta["resolution"], meta["fps"]] in shortlist else None

            meta = wait_until(served, timeout=30, what="a shortlisted configuration in force")
            records = client.get(f"{rt.url('distributor')}/results", params={"limit": 1000}).json()["records"]
    finally:
        rt.stop(timeout=10)

    assert info["accuracy"] == "golden labels" and info["labeller_cpu_s"] > 0 and info["profiling_tasks"] >= 1
    assert info["shortlist"], info
    assert "label" not in meta["extra"], meta
    assert cloud["labeller"]["served"] >= 1 and cloud["labeller"]["cpu_s"] > 0
    assert edge["labeller"] is None
    assert all(r["task"]["payload"].get("ground_truth") is None for r in records if r["kind"] == "result")
