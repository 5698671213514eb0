"""Cutting a link between two virtual nodes of the local runtime in network-namespace mode.

Each node reaches the other's address over their veth pair by a /32 route (see backend.local_runtime.netns);
the cut replaces that route with a blackhole in both namespaces, so packets between the two nodes are
dropped silently, as on a cable pulled out: connections time out rather than being refused. Restoring
puts the routes back as the runtime made them. The nodes' link to the host bridge (health checks, the
backend) is left alone.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

from backend.local_runtime.netns import NetPlan, run_command


def plan_of(run: Path) -> NetPlan:
    path = next(run.rglob("links.json"))
    data = json.loads(path.read_text())
    assert data.get("mode") == "netns", data
    return NetPlan.from_dict(data["netns"])


def _routes(plan: NetPlan, a: str, b: str) -> list[tuple[str, str, list[str]]]:
    """(namespace, destination, the route the runtime made) for each direction of link a-b."""
    pair = plan.pair(a, b)
    assert pair is not None, f"no link {a}-{b} in {plan.pairs}"
    out = []
    for me, other, dev, peer in ((pair.a, pair.b, pair.dev_a, pair.addr_b), (pair.b, pair.a, pair.dev_b, pair.addr_a)):
        dest = f"{plan.addresses[other]}/32"
        out.append((plan.netns[me], dest, [dest, "via", peer, "dev", dev, "src", plan.addresses[me]]))
    return out


@contextlib.contextmanager
def cut_link(run: Path, a: str, b: str) -> Iterator[None]:
    """Link a-b is cut inside the block and restored at its end (also when the block fails)."""
    plan = plan_of(run)
    routes = _routes(plan, a, b)
    try:
        for ns, dest, _ in routes:
            run_command(["ip", "-n", ns, "route", "replace", "blackhole", dest])
        yield
    finally:
        for ns, _, route in routes:
            run_command(["ip", "-n", ns, "route", "replace", *route])
