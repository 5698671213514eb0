"""End to end: a link trace's drop changes the plans of an adaptive policy.

One cloud and one edge node as real processes (local runtime, process link mode), a seeded synthetic
720p clip looping on the edge, one face-detection stage the startup plan places on the cloud, the real
scheduler running ``fc`` (delay feedback against the SLO). The edge-cloud link follows a trace of
20 Mbit/s that drops to 0.5 Mbit/s; the trace is held until the first result and started then, as the
policy benchmark does. Before the drop the 720p segments cross the link well within the SLO and fc keeps
720p; after it they queue on the link, the delays exceed the SLO and fc lowers the resolution. Nothing
is faked.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.benchpolicies import workload as wl
from backend.benchpolicies.policies import RESOLUTIONS
from backend.local_runtime.runtime import LocalRuntime
from tests.e2e.cluster import wait_until

pytestmark = pytest.mark.e2e

DROP_AT = 10.0
LOW_MBPS = 0.5
AFTER_S = 30.0
"""Seconds after the drop the run may go on (it stops once the generator's plan has moved)."""
SLO_S = 4.0
"""Generous, so a loaded machine's compute delays alone do not move fc before the drop."""
STARTUP = {"resolution": "720p", "fps": 2.0, "encoding": "h264", "qp": 18, "buffer_size": 4}
"""~0.3 MB per 2 s segment: about 1.2 Mbit/s, a few % of the link before the drop, over twice the link after
it; 2 fps keeps the detector's share of the CPU small, so only the link queues."""


def _records(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = 0
    while True:
        page = client.get(f"{url}/results", params={"after": cursor, "limit": 1000}).json()
        out.extend(page["records"])
        if len(page["records"]) < 1000:
            return out
        cursor = page["cursor"]


def test_a_bandwidth_drop_makes_fc_lower_the_resolution(tmp_path: Path) -> None:
    clip, truth = wl.prepare_clip(tmp_path / "clip", seed=5, frames=60)
    trace = tmp_path / "drop.csv"
    trace.write_text(f"t_s,mbit_per_s\n0,20\n{DROP_AT:g},{LOW_MBPS:g}\n")
    agent = {
        "alias": "fc",
        "params": {"slo_s": SLO_S, "window": 4, "min_tasks": 2, "ladders": {"resolution": RESOLUTIONS}},
    }
    works = wl.workloads(agent=agent, startup=STARTUP, clip=clip, truth=truth, seed=5)
    rt = LocalRuntime(tmp_path / "run")
    rt.start(
        {wl.CLOUD: {"role": "cloud"}, wl.EDGE: {"role": "edge"}},
        [wl.link(str(trace), 20.0)],
        works,
        timeout=90,
        trace_clock="held",
    )
    try:
        with httpx.Client(timeout=10, trust_env=False) as client:
            distributor, generator = rt.url("distributor"), rt.url(f"gen-{wl.SOURCE}")
            held = rt.link_status()
            assert held["trace_clock"] == "held" and held["trace_start"] is None
            assert held["links"][0]["current_mbps"] == 20  # the first row until the clock starts
            wait_until(
                lambda: any(r["kind"] == "result" for r in _records(client, distributor)),
                timeout=60,
                what="the first result",
            )
            started = rt.start_traces()
            plans: list[tuple[float, str]] = []  # (trace time, resolution of the generator's plan in force)
            deadline = started + DROP_AT + AFTER_S
            while time.time() < deadline:
                meta = client.get(f"{generator}/status").json()["plan"]["meta"]
                plans.append((time.time() - started, meta["resolution"]))
                if plans[-1][0] >= DROP_AT and plans[-1][1] != "720p":
                    break
                time.sleep(0.5)
            assert rt.link_status()["links"][0]["current_mbps"] == LOW_MBPS
            records = _records(client, distributor)
    finally:
        rt.stop(timeout=10)

    made = [
        (r["task"]["created_at"] - started, r["task"]["meta"]["resolution"], r["latency"])
        for r in records
        if r["kind"] == "result"
    ]
    before = [m for m in made if 0 <= m[0] < DROP_AT - 2]  # made and sent well before the drop
    assert before, made
    # Before the drop: the segments cross the link within the SLO, and fc holds the startup resolution.
    assert all(res == "720p" and latency < SLO_S for _, res, latency in before), before
    assert all(res == "720p" for t, res in plans if t < DROP_AT), plans
    # After it: the delays of the queued segments exceed the SLO and fc steps the resolution down.
    assert any(t >= DROP_AT for t, _ in plans), plans
    t, res = plans[-1]
    assert t >= DROP_AT and RESOLUTIONS.index(res) < RESOLUTIONS.index("720p"), plans
    assert any(latency > SLO_S for t, _, latency in made if t + latency >= DROP_AT), made
