"""Namespace link mode with real namespaces, veth pairs and tc: the measured throughput over a shaped link
is near its rate, two senders share it, and everything is removed afterwards. Needs root and iproute2."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.local_runtime.netns import Namespaces, run_command, unavailable_reason

pytestmark = pytest.mark.integration

REASON = unavailable_reason()
needs_netns = pytest.mark.skipif(REASON is not None, reason=f"namespace link mode unavailable: {REASON}")
REPO = Path(__file__).resolve().parents[3]
METER = [sys.executable, "-m", "tests.backend.local_runtime.netperf"]
TIMELINE_S = 20
"""The outage test's meter window: 2 s before the outage, 2 s of it, then up to 14 s for the rate to come back."""


def _measure(ns: Namespaces, plan, senders: int, seconds: float = 2.0) -> list[float]:
    cloud = plan.addresses["cloud"]
    server = subprocess.Popen(
        [*ns.exec_prefix(plan, "cloud"), *METER, "serve", cloud, "7001", str(seconds), str(senders)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        clients = [
            subprocess.Popen([*ns.exec_prefix(plan, "edge1"), *METER, "send", cloud, "7001", str(seconds)], cwd=REPO)
            for _ in range(senders)
        ]
        out, _ = server.communicate(timeout=seconds + 30)
        for client in clients:
            client.wait(timeout=15)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    return list(json.loads(out.strip().splitlines()[-1]))


@needs_netns
def test_shaped_link_gives_its_rate_and_two_senders_share_it(tmp_path):
    ns = Namespaces(tmp_path / "run")
    plan = ns.create(["cloud", "edge1", "edge2"], [("cloud", "edge1", 16.0)])
    try:
        assert set(ns.owned_netns()) == {ns.netns_name(i) for i in range(3)}
        (alone,) = _measure(ns, plan, 1)
        assert alone == pytest.approx(16.0, rel=0.2)
        pair = _measure(ns, plan, 2)
        assert sum(pair) == pytest.approx(16.0, rel=0.2)  # one bottleneck, not one per sender
        assert max(pair) < 0.75 * 16.0
        ns.set_rate(plan, "cloud", "edge1", 4.0)  # what the trace driver does when the trace steps
        (slow,) = _measure(ns, plan, 1)
        assert slow == pytest.approx(4.0, rel=0.25)
        # Node-to-node traffic takes the pair link, never the bridge to the host (a full mesh of links).
        for node in ("edge1", "edge2"):
            pair = plan.pair(node, "cloud")
            assert pair is not None and pair.shaped == (node == "edge1")
            dev = pair.dev_a if pair.a == node else pair.dev_b
            route = run_command(["ip", "-n", plan.netns[node], "route", "get", plan.addresses["cloud"]])
            assert f"dev {dev} " in route and f"src {plan.addresses[node]}" in route
    finally:
        removed = ns.destroy()
    assert set(removed) >= {ns.netns_name(i) for i in range(3)}
    assert ns.owned_netns() == [] and ns.owned_links() == []


@needs_netns
def test_an_outage_holds_what_is_sent_and_the_link_resumes_after(tmp_path):
    """What the trace driver does for a second at 0 Mbit/s: the link carries (almost) nothing while the
    outage lasts, the connection survives it, and the rate comes back once it ends."""
    ns = Namespaces(tmp_path / "run")
    plan = ns.create(["cloud", "edge1"], [("cloud", "edge1", 16.0)])
    cloud = plan.addresses["cloud"]
    server = subprocess.Popen(
        [*ns.exec_prefix(plan, "cloud"), *METER, "timeline", cloud, "7002", str(TIMELINE_S)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    client = None
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        client = subprocess.Popen(
            [*ns.exec_prefix(plan, "edge1"), *METER, "send", cloud, "7002", str(TIMELINE_S)], cwd=REPO
        )
        time.sleep(2.0)
        ns.set_rate(plan, "cloud", "edge1", 0.0)
        down = time.monotonic()
        time.sleep(2.0)
        up = time.monotonic()
        ns.set_rate(plan, "cloud", "edge1", 16.0)
        out, _ = server.communicate(timeout=40)
    finally:
        for proc in (server, client):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        ns.destroy()
    reads = json.loads(out.strip().splitlines()[-1])

    def mbps(begin: float, end: float) -> float:
        return sum(n for t, n in reads if begin <= t < end) * 8 / (end - begin) / 1e6

    assert mbps(down - 1.5, down) == pytest.approx(16.0, rel=0.3)
    # Half a second after the outage began (what was read before it may reach the meter late), nothing
    # but the floor's trickle gets through.
    assert mbps(down + 0.5, up) < 0.05 * 16.0
    # The rate comes back: some 2-s window after the outage carries the link's rate again. When is not
    # asserted (TCP's retransmission timer backed off during the outage, and a loaded machine delays the
    # sender further); the meter's window bounds the wait.
    windows = [mbps(up + k * 0.5, up + k * 0.5 + 2.0) for k in range(int((TIMELINE_S - 6.0) * 2))]
    assert max(windows) == pytest.approx(16.0, rel=0.3), windows


@needs_netns
def test_names_are_unique_per_run_dir_and_stale_ones_are_cleaned(tmp_path):
    one, two = Namespaces(tmp_path / "a"), Namespaces(tmp_path / "b")
    assert one.prefix != two.prefix and len(one.prefix) == 8
    first = one.create(["cloud", "edge1"], [])
    second = two.create(["cloud", "edge1"], [])
    try:
        assert first.block != second.block  # parallel installs get their own addresses
        again = Namespaces(tmp_path / "a").create(["cloud", "edge1"], [])  # a restart: the stale ones go first
        assert Namespaces(tmp_path / "a").owned_netns() == [one.netns_name(0), one.netns_name(1)]
        assert again.block == first.block
        assert two.owned_netns() == [two.netns_name(0), two.netns_name(1)]  # the other install is untouched
    finally:
        one.destroy()
        two.destroy()
    assert one.owned_netns() == [] and two.owned_netns() == []


def test_unavailable_reason_names_what_is_missing(monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert unavailable_reason() == "namespaces need root (running as uid 1000)"
