"""One policy, one run: a fresh local install, the workload played for the run's duration, its records."""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from backend.benchpolicies import workload as wl
from services.local.runtime import LocalRuntime

POLL_S = 2.0


@dataclass
class RunRecords:
    policy: str
    repeat: int
    started: float
    """Wall clock of the install (the trace's time zero)."""
    duration_s: float
    records: list[dict[str, Any]] = field(default_factory=list)
    scheduler: dict[str, Any] = field(default_factory=dict)
    generator: dict[str, Any] = field(default_factory=dict)


def _page(client: httpx.Client, url: str, after: int) -> tuple[list[dict[str, Any]], int]:
    body = client.get(f"{url}/results", params={"after": after, "limit": 1000}, timeout=10).json()
    return list(body["records"]), int(body["cursor"])


def _collect(client: httpx.Client, url: str, records: list[dict[str, Any]], cursor: int) -> int:
    while True:
        page, cursor = _page(client, url, cursor)
        records.extend(page)
        if len(page) < 1000:
            return cursor


def run_policy(
    policy: str,
    repeat: int,
    *,
    agent: dict[str, Any],
    startup: dict[str, Any],
    clip: Path,
    truth: Path,
    seed: int,
    trace: str | None,
    link_mbps: float,
    duration_s: float,
    run_dir: Path,
    timeout_s: float,
) -> RunRecords:
    shutil.rmtree(run_dir, ignore_errors=True)
    runtime = LocalRuntime(run_dir)
    nodes = {wl.CLOUD: {"role": "cloud"}, wl.EDGE: {"role": "edge"}}
    works = wl.workloads(agent=agent, startup=startup, clip=clip, truth=truth, seed=seed)
    started = time.time()
    runtime.start(nodes, [wl.link(trace, link_mbps)], works, timeout=timeout_s)
    run = RunRecords(policy=policy, repeat=repeat, started=started, duration_s=duration_s)
    distributor, scheduler = runtime.url("distributor"), runtime.url("scheduler")
    cursor = 0
    try:
        with httpx.Client(trust_env=False) as client:
            begin = time.monotonic()
            while (elapsed := time.monotonic() - begin) < duration_s:
                time.sleep(min(POLL_S, max(0.0, duration_s - elapsed)))
                cursor = _collect(client, distributor, run.records, cursor)
                results = sum(1 for r in run.records if r["kind"] == "result")
                print(
                    f"  {policy} #{repeat + 1}: {time.monotonic() - begin:5.1f}/{duration_s:g} s, "
                    f"{results} tasks, {len(run.records) - results} drops",
                    file=sys.stderr,
                    flush=True,
                )
            run.scheduler = client.get(f"{scheduler}/stats", timeout=10).json()
            run.generator = client.get(f"{runtime.url('gen-cam1')}/status", timeout=10).json()
            time.sleep(1.0)  # tasks in flight at the end land; they belong to the run
            cursor = _collect(client, distributor, run.records, cursor)
    finally:
        runtime.stop(timeout=10.0)
    return run
