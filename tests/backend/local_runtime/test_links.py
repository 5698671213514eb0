"""Link emulation through the local runtime: a trace's step changes the bandwidth the edge monitor MEASURES.

Real monitor processes on two virtual nodes; the edge's bandwidth probe times uploads to the cloud
monitor. Process mode runs everywhere; namespace mode needs root and iproute2 (skipped otherwise).
"""

from __future__ import annotations

import http.server
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from backend.local_runtime.netns import Namespaces, unavailable_reason
from backend.local_runtime.runtime import LocalRuntime
from common.workload import Workload
from tests import loopback

pytestmark = pytest.mark.integration

NODES = {"cloud": {"role": "cloud"}, "edge1": {"role": "edge"}}
PERIOD = 8.0
DROP_AT = 4.0
REASON = unavailable_reason()


def _workloads() -> list[Workload]:
    probe = {"alias": "bandwidth", "params": {"min_bytes": 65536, "target_s": 0.2, "timeout": 5}}
    return [
        Workload(name="monitor-cloud", component="monitor", node="cloud", stage=1, config={"probes": ["cpu"]}),
        Workload(
            name="monitor-edge1",
            component="monitor",
            node="edge1",
            stage=1,
            config={"interval": 0.4, "probes": [probe]},
        ),
    ]


def _measured(rt: LocalRuntime, seconds: float) -> list[tuple[float, float, float]]:
    """(start, end) in trace seconds and measured Mbit/s of each distinct probe of the edge monitor,
    over ``seconds`` from its first report (start-up on a loaded machine takes unknown seconds)."""
    start = rt.link_status()["trace_start"]
    seen: dict[float, tuple[float, float, float]] = {}
    first = None
    with httpx.Client(timeout=10, trust_env=False) as client:
        deadline = time.monotonic() + seconds + 30
        while time.monotonic() < deadline:
            report = client.get(rt.url("monitor-edge1") + "/resources").json()
            if report.get("bandwidth_mbps") is not None:
                end = report["at"] - start
                began = end - report["extra"]["bandwidth_probe_s"] - 0.05
                seen[end] = (began, end, report["bandwidth_mbps"])
                first = end if first is None else first
            if first is not None and max(seen) > first + seconds:
                break
            time.sleep(0.2)
    return sorted(seen.values())


def _within(began: float, end: float, low: float, high: float, period: float = PERIOD) -> bool:
    """Whether a probe from ``began`` to ``end`` lies in [low, high) of one pass of the looping trace."""
    if end - began >= period:
        return False
    a, b = began % period, end % period
    return a <= b and low <= a and b < high


@pytest.mark.parametrize("mode", ["process", "netns"])
def test_a_trace_step_changes_the_measured_bandwidth(tmp_path: Path, mode: str) -> None:
    if mode == "netns" and REASON is not None:
        pytest.skip(f"namespace link mode unavailable: {REASON}")
    trace = tmp_path / "drop.csv"
    # 16 Mbit/s for 4 s, 2 Mbit/s for 4 s, again and again.
    trace.write_text(f"t_s,mbit_per_s\n0,16\n{DROP_AT:g},2\n{PERIOD:g},16\n")
    links = [{"a": "cloud", "b": "edge1", "trace": str(trace), "trace_mode": "loop"}]
    rt = LocalRuntime(tmp_path / "run")
    rt.start(NODES, links, _workloads(), timeout=60, link_mode=mode)
    try:
        status = rt.link_status()
        assert status["mode"] == mode and status["reason"] is None
        assert status["links"][0]["trace"] == str(trace)
        samples = _measured(rt, seconds=PERIOD + 1.5)
        assert rt.link_status()["links"][0]["current_mbps"] in (16, 2)
    finally:
        rt.stop(timeout=5)
    # Probes well inside the fast phase, and well inside the slow one (a queue built at 16 Mbit/s drains
    # for a moment after the drop).
    fast = [mbps for began, end, mbps in samples if _within(began, end, 0.3, DROP_AT)]
    slow = [mbps for began, end, mbps in samples if _within(began, end, DROP_AT + 1.0, PERIOD)]
    assert fast and slow, samples
    assert statistics.median(fast) == pytest.approx(16, rel=0.35), samples
    assert statistics.median(slow) == pytest.approx(2, rel=0.35), samples
    if mode == "netns":
        assert Namespaces(tmp_path / "run").owned_netns() == []  # stop removed them


def _probes_after(rt: LocalRuntime, client: httpx.Client, after: float, seconds: float) -> list[float]:
    """Mbit/s of each distinct probe of the edge monitor that began after wall-clock ``after``, for ``seconds``."""
    seen: dict[float, float] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        report = client.get(rt.url("monitor-edge1") + "/resources").json()
        began = report["at"] - (report.get("extra") or {}).get("bandwidth_probe_s", 0.0)
        if report.get("bandwidth_mbps") is not None and began > after:
            seen[report["at"]] = float(report["bandwidth_mbps"])
        time.sleep(0.2)
    return list(seen.values())


def test_a_held_trace_keeps_its_first_row_until_the_runtime_starts_it(tmp_path: Path) -> None:
    trace = tmp_path / "drop.csv"
    trace.write_text("t_s,mbit_per_s\n0,16\n1,2\n")  # 16 Mbit/s for 1 s, then 2 for ever (hold)
    links = [{"a": "cloud", "b": "edge1", "trace": str(trace), "trace_mode": "hold"}]
    rt = LocalRuntime(tmp_path / "run")
    rt.start(NODES, links, _workloads(), timeout=60, trace_clock="held")
    try:
        with httpx.Client(timeout=10, trust_env=False) as client:
            status = rt.link_status()
            assert status["trace_clock"] == "held" and status["trace_start"] is None
            assert status["links"][0]["current_mbps"] == 16
            # Well past the trace's drop at 1 s, the held link still runs at its first row.
            time.sleep(2.0)
            held = _probes_after(rt, client, time.time(), 3.0)
            assert held and statistics.median(held) == pytest.approx(16, rel=0.35), held
            started = rt.start_traces()
            assert rt.link_status()["trace_start"] == started
            time.sleep(1.5)  # the components re-read the topology; the trace passes its drop
            dropped = _probes_after(rt, client, time.time(), 4.0)
            assert dropped and statistics.median(dropped) == pytest.approx(2, rel=0.35), dropped
            assert rt.link_status()["links"][0]["current_mbps"] == 2
    finally:
        rt.stop(timeout=5)


def test_netns_request_falls_back_to_process_mode_with_the_reason(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)  # as a user without root
    links = [{"a": "cloud", "b": "edge1", "bandwidth_mbps": 16}]
    rt = LocalRuntime(tmp_path / "run")
    topology = rt.start(NODES, links, _workloads()[:1], timeout=60, link_mode="netns")
    try:
        status = rt.link_status()
        assert status["mode"] == "process"
        assert "netns link mode unavailable, shaping in process: namespaces need root" in status["reason"]
        assert topology.link_mode() == "process"
        assert topology.link_state_dir() == str(tmp_path / "run" / "links")
        assert topology.node("cloud").components["monitor"].host == "127.0.0.1"
    finally:
        rt.stop(timeout=5)


def test_netns_nodes_reach_a_host_loopback_service_at_their_own_loopback(tmp_path: Path) -> None:
    """The datasource listens on the host's 127.0.0.1; a node in its namespace reaches it at 127.0.0.1 too."""
    if REASON is not None:
        pytest.skip(f"namespace link mode unavailable: {REASON}")
    body = b"frames from the host"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rt = LocalRuntime(tmp_path / "run")
    try:
        rt.start(NODES, [], _workloads()[:1], timeout=60, link_mode="netns", host_ports=[port])
        plan = rt.links.plan()
        assert plan is not None
        fetch = (
            "import time, urllib.request\n"
            "for _ in range(50):\n"
            "    try:\n"
            f"        print(urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=2).read().decode()); break\n"
            "    except OSError: time.sleep(0.1)\n"
        )
        for node in NODES:
            out = subprocess.run(
                ["ip", "netns", "exec", plan.netns[node], sys.executable, "-c", fetch],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert out.stdout.strip() == body.decode(), (node, out.stdout, out.stderr)
    finally:
        rt.stop(timeout=5)
        server.shutdown()
        server.server_close()
    assert list((tmp_path / "run" / "links" / "helpers").glob("*.json")) == []  # the relay stopped with the run
    assert Namespaces(tmp_path / "run").owned_netns() == []


OUTAGE = (4.0, 6.0)
OUTAGE_PERIOD = 10.0


@pytest.mark.parametrize("mode", ["process", "netns"])
def test_an_outage_holds_traffic_and_it_resumes_after(tmp_path: Path, mode: str) -> None:
    """Two seconds at 0 Mbit/s in every 10 s pass: the monitors keep running through each outage, no probe
    gets through while it lasts, and probes after it measure the rate again. (That a transfer is held, not
    lost, is checked exactly in tests/common/test_shaping_processes.py and
    tests/backend/local_runtime/test_netns.py.)"""
    if mode == "netns" and REASON is not None:
        pytest.skip(f"namespace link mode unavailable: {REASON}")
    low, high = OUTAGE
    trace = tmp_path / "outage.csv"
    trace.write_text(f"t_s,mbit_per_s\n0,16\n{low:g},0\n{high:g},16\n{OUTAGE_PERIOD:g},16\n")
    links = [{"a": "cloud", "b": "edge1", "trace": str(trace), "trace_mode": "loop"}]
    rt = LocalRuntime(tmp_path / "run")
    rt.start(NODES, links, _workloads(), timeout=60, link_mode=mode)
    try:
        assert rt.link_status()["mode"] == mode
        samples = _measured(rt, seconds=2 * OUTAGE_PERIOD + 1.0)
        alive = loopback.get(rt.url("monitor-edge1") + "/resources", timeout=10, trust_env=False)
        assert alive.status_code == 200
    finally:
        rt.stop(timeout=5)
    shown = [(round(b, 2), round(e, 2), round(m, 1)) for b, e, m in samples]
    ends = [end for _, end, _ in samples]
    assert max(ends) - min(ends) > OUTAGE_PERIOD + 1.0, shown  # probes went on past an outage
    # No probe began and ended inside an outage (half a second of margin for a late report).
    assert not [s for s in samples if _within(s[0], s[1], low + 0.5, high - 0.5, OUTAGE_PERIOD)], shown
    after = [mbps for began, end, mbps in samples if _within(began, end, high + 0.5, OUTAGE_PERIOD, OUTAGE_PERIOD)]
    assert after, shown
    assert statistics.median(after) == pytest.approx(16, rel=0.35), samples
