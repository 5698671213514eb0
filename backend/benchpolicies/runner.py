"""One policy, one run: a fresh local install, the workload played for the run's duration, its records.

The measured window is anchored to the workload, not to the install: the link trace is held at its first
row while the deployment starts and warms up, and its clock starts when the first result reaches the
distributor. The tasks of the window are those the generator made from then until ``duration_s`` later
(by task id); after the window the run waits up to ``drain_s`` for them, and those still missing count
as unfinished. Every policy is measured the same way.

The edges' bandwidth probes share the link with the tasks: each edge monitor's count of probe bytes is read
when the window starts and when it ends, and the difference is the probe's share of the window's bytes.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from backend.benchpolicies import workload as wl
from backend.local_runtime.runtime import LocalRuntime
from common.errors import Unavailable

POLL_S = 2.0
WARMUP_POLL_S = 0.2


@dataclass
class RunRecords:
    policy: str
    repeat: int
    started: float
    """Wall clock of the trace's start (the first result), the time zero of the run's figures."""
    duration_s: float
    first_task: int = 0
    """Id of the first task of the measured window."""
    end_task: int = 0
    """Id of the first task made after the window."""
    warmup_s: float = 0.0
    """Install until the first result."""
    records: list[dict[str, Any]] = field(default_factory=list)
    scheduler: dict[str, Any] = field(default_factory=dict)
    generator: dict[str, Any] = field(default_factory=dict)
    cpu: dict[str, Any] = field(default_factory=dict)
    """Each node's CPU quota and whether cgroups enforced it (the runtime's ``cpu_status``)."""
    probe_bytes: int | None = None
    """Bytes the edges' bandwidth probes sent during the window; None when not counted (see ``probe_unknown``)."""
    probe_unknown: str | None = None
    """Why ``probe_bytes`` is unknown: a monitor could not be read. None with ``probe_bytes`` None: records
    that never came from a run of the benchmark (an export), which count the tasks' bytes alone."""


def _page(client: httpx.Client, url: str, after: int) -> tuple[list[dict[str, Any]], int]:
    body = client.get(f"{url}/results", params={"after": after, "limit": 1000}, timeout=10).json()
    return list(body["records"]), int(body["cursor"])


def _collect(client: httpx.Client, url: str, records: list[dict[str, Any]], cursor: int) -> int:
    while True:
        page, cursor = _page(client, url, cursor)
        records.extend(page)
        if len(page) < 1000:
            return cursor


def task_id(record: dict[str, Any]) -> int:
    return int(record["task"]["task_id"] if record["kind"] == "result" else record["drop"]["task_id"])


def in_window(run: RunRecords, record: dict[str, Any]) -> bool:
    return run.first_task <= task_id(record) < run.end_task


def window_ids(run: RunRecords) -> set[int]:
    """Ids of the window's tasks that ended (a result or a drop record)."""
    return {task_id(r) for r in run.records if in_window(run, r)}


def _next_task(client: httpx.Client, generator: str) -> int:
    return int(client.get(f"{generator}/status", timeout=10).json()["next_task_id"])


def probe_totals(client: httpx.Client, monitors: dict[str, str]) -> dict[str, int] | str:
    """Each edge monitor's ``bandwidth_probe_bytes_total`` from its latest report, or why one is unknown.

    A report is at most one monitor interval old, so the window's probe bytes are those of the reports
    nearest its ends; a report whose probe timed out carries no count, and is unknown like a failed read."""
    totals = {}
    for node, url in monitors.items():
        try:
            reply = client.get(f"{url}/resources", timeout=10)
            reply.raise_for_status()
            value = (reply.json().get("extra") or {}).get("bandwidth_probe_bytes_total")
        except (httpx.HTTPError, ValueError) as exc:
            return f"monitor of {node} not read: {exc}"
        if not isinstance(value, int):
            return f"monitor of {node} reported no bandwidth_probe_bytes_total"
        totals[node] = value
    return totals


def probe_delta(before: dict[str, int] | str, after: dict[str, int] | str) -> int | str:
    """Probe bytes sent between two readings of :func:`probe_totals`, or why they are unknown."""
    if isinstance(before, str):
        return f"at the window's start: {before}"
    if isinstance(after, str):
        return f"at the window's end: {after}"
    went_back = sorted(node for node in before if after[node] < before[node])
    if went_back:
        return f"probe byte count went back (monitor restarted?) on {', '.join(went_back)}"
    return sum(after[node] - before[node] for node in before)


def run_policy(
    policy: str,
    repeat: int,
    *,
    agent: dict[str, Any],
    startup: dict[str, Any],
    clip: Path,
    truth: Path | None,
    seed: int,
    trace: str | None,
    link_mbps: float,
    duration_s: float,
    drain_s: float,
    run_dir: Path,
    timeout_s: float,
    edge_cpu_quota: float | None = None,
    service: str = wl.SERVICE,
    stage: str = wl.STAGE,
    processor: dict[str, Any] | None = None,
) -> RunRecords:
    shutil.rmtree(run_dir, ignore_errors=True)
    runtime = LocalRuntime(run_dir)
    nodes = wl.nodes(edge_cpu_quota)
    works = wl.workloads(
        agent=agent,
        startup=startup,
        clip=clip,
        truth=truth,
        seed=seed,
        service=service,
        stage=stage,
        processor=processor,
    )
    installed = time.monotonic()
    runtime.start(nodes, [wl.link(trace, link_mbps)], works, timeout=timeout_s, trace_clock="held")
    distributor, scheduler = runtime.url("distributor"), runtime.url("scheduler")
    generator = runtime.url(f"gen-{wl.SOURCE}")
    monitors = {node: runtime.url(f"monitor-{node}") for node in nodes if node != wl.CLOUD}
    records: list[dict[str, Any]] = []
    try:
        with httpx.Client(trust_env=False) as client:
            cursor = 0
            deadline = time.monotonic() + timeout_s
            while not any(r["kind"] == "result" for r in records):
                if time.monotonic() > deadline:
                    raise Unavailable(f"{policy}: no result within {timeout_s:g}s of the install")
                time.sleep(WARMUP_POLL_S)
                cursor = _collect(client, distributor, records, cursor)
            started = runtime.start_traces()
            probes_before = probe_totals(client, monitors)
            run = RunRecords(
                policy=policy,
                repeat=repeat,
                started=started,
                duration_s=duration_s,
                first_task=_next_task(client, generator),
                warmup_s=time.monotonic() - installed,
                records=records,
                cpu=runtime.cpu_status(),
            )
            begin = time.monotonic()
            while (elapsed := time.monotonic() - begin) < duration_s:
                time.sleep(min(POLL_S, max(0.0, duration_s - elapsed)))
                cursor = _collect(client, distributor, run.records, cursor)
                done = [r for r in run.records if task_id(r) >= run.first_task]
                results = sum(1 for r in done if r["kind"] == "result")
                print(
                    f"  {policy} #{repeat + 1}: {time.monotonic() - begin:5.1f}/{duration_s:g} s, "
                    f"{results} tasks, {len(done) - results} drops",
                    file=sys.stderr,
                    flush=True,
                )
            run.end_task = _next_task(client, generator)
            probed = probe_delta(probes_before, probe_totals(client, monitors))
            if isinstance(probed, str):
                run.probe_unknown = probed
                print(f"  {policy} #{repeat + 1}: probe bytes unknown: {probed}", file=sys.stderr, flush=True)
            else:
                run.probe_bytes = probed
            run.scheduler = client.get(f"{scheduler}/stats", timeout=10).json()
            run.generator = client.get(f"{generator}/status", timeout=10).json()
            # The window's tasks still on their way belong to it: wait for them, boundedly.
            wanted = run.end_task - run.first_task
            drain_until = time.monotonic() + drain_s
            while len(window_ids(run)) < wanted and time.monotonic() < drain_until:
                time.sleep(0.5)
                cursor = _collect(client, distributor, run.records, cursor)
    finally:
        runtime.stop(timeout=10.0)
    return run
