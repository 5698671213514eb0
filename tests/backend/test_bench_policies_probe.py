"""The bytes a policy puts on the link include the edges' bandwidth probes: the benchmark reads each edge
monitor's probe byte count at both ends of the window, adds the difference to the tasks' bytes and shows it
on its own; a count it could not read stays unknown, never 0.

The monitors are real ones on loopback (the edge probes the cloud's endpoint)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from backend.benchpolicies import report
from backend.benchpolicies.runner import RunRecords, probe_delta, probe_totals
from backend.benchpolicies.summary import combine, summarise
from services.monitor.app import create_app
from services.monitor.config import MonitorConfig
from services.monitor.settings import MonitorSettings
from tests.backend.test_bench_policies_summary import T0, result
from tests.servers import free_port, serve
from tests.services.monitor.test_app import wait_for

PROBE = 64 * 1024


def _run(**probe: Any) -> RunRecords:
    """Two window tasks of 1000 bytes that crossed the link, 1 s of video each (10 frames at 10 fps)."""
    records = [result(4, 0.5, 0.2), result(5, 1.0, 0.3)]
    for record in records:
        record["task"]["meta"]["buffer_size"] = 10
    return RunRecords("p", 0, started=T0, duration_s=10, first_task=4, end_task=6, records=records, **probe)


@pytest.mark.unit
def test_link_bytes_include_the_probe_and_show_it_apart() -> None:
    figures = summarise(_run(probe_bytes=3_000_000), 1000.0)
    assert figures["task_mbytes"] == pytest.approx(0.002)
    assert figures["probe_mbytes"] == pytest.approx(3.0)
    assert figures["link_mbytes"] == pytest.approx(3.002)
    assert figures["video_s"] == pytest.approx(2.0)
    assert figures["link_mbytes_per_video_s"] == pytest.approx(3.002 / 2.0)
    assert figures["probe_unknown"] is None


@pytest.mark.unit
def test_unknown_probe_bytes_leave_the_link_bytes_unknown() -> None:
    figures = summarise(_run(probe_unknown="monitor of edge1 not read: refused"), 1000.0)
    assert figures["probe_mbytes"] is None and figures["link_mbytes"] is None
    assert figures["link_mbytes_per_video_s"] is None
    assert figures["task_mbytes"] == pytest.approx(0.002)  # the tasks' own share is still known
    assert figures["probe_unknown"] == "monitor of edge1 not read: refused"
    # Over repeats, the unknown one does not pull the mean towards 0.
    known = summarise(_run(probe_bytes=1_000_000), 1000.0)
    combined = combine([figures, known])
    assert combined["link_mbytes"] == pytest.approx(1.002) and combined["probe_mbytes"] == pytest.approx(1.0)
    text = report.table(
        {
            "settings": {"trace": "t", "trace_replay": "r", "duration_s": 10, "slo_ms": 1000, "seed": 7, "repeat": 2},
            "policies": {"p": combined},
        }
    )
    assert "probe MB" in text.splitlines()[3]  # the table's header row
    assert "p #1: probe bytes unknown, so is its link MB (monitor of edge1 not read: refused)." in text


@pytest.mark.unit
def test_records_from_outside_a_run_count_the_tasks_alone() -> None:
    """An export (``dayuctl analyze``) has no probe count: its link bytes are the tasks', the probe's unknown."""
    figures = summarise(_run(), 1000.0)
    assert figures["link_mbytes"] == pytest.approx(0.002) and figures["probe_mbytes"] is None


@pytest.mark.unit
def test_a_count_that_goes_back_is_unknown() -> None:
    assert probe_delta({"edge1": 10, "edge2": 5}, {"edge1": 30, "edge2": 9}) == 24
    assert "went back" in str(probe_delta({"edge1": 10}, {"edge1": 3}))
    assert str(probe_delta("monitor of edge1 not read: x", {"edge1": 3})).startswith("at the window's start: ")
    assert str(probe_delta({"edge1": 3}, "monitor of edge1 not read: x")).startswith("at the window's end: ")


@pytest.mark.integration
def test_probe_bytes_read_from_real_monitors() -> None:
    """Probes of exactly 64 KiB every 0.2 s: two readings differ by whole probes, and grow."""
    probe = {"alias": "bandwidth", "params": {"size_bytes": PROBE, "min_bytes": PROBE, "timeout": 5}}
    with (
        serve(create_app(MonitorSettings(node="cloud"), MonitorConfig(probes=[]))) as cloud,
        serve(
            create_app(
                MonitorSettings(node="edge1"),
                MonitorConfig.model_validate({"probes": [probe], "cloud_monitor_url": cloud, "interval": 0.2}),
            )
        ) as edge,
    ):
        wait_for(f"{edge}/resources", lambda r: (r["extra"].get("bandwidth_probes") or 0) >= 1)
        with httpx.Client(trust_env=False) as client:
            before = probe_totals(client, {"edge1": edge})
            assert isinstance(before, dict), before
            wait_for(
                f"{edge}/resources",
                lambda r: (r["extra"].get("bandwidth_probe_bytes_total") or 0) >= before["edge1"] + 2 * PROBE,
            )
            after = probe_totals(client, {"edge1": edge})
            # A monitor without the bandwidth probe (the cloud's) has no count: unknown, not 0.
            missing = probe_totals(client, {"edge1": edge, "cloud": cloud})
            dead = probe_totals(client, {"edge2": f"http://127.0.0.1:{free_port()}"})
    delta = probe_delta(before, after)
    assert isinstance(delta, int) and delta >= 2 * PROBE and delta % PROBE == 0, delta
    assert missing == "monitor of cloud reported no bandwidth_probe_bytes_total"
    assert isinstance(dead, str) and dead.startswith("monitor of edge2 not read: "), dead
