"""Virtual nodes as Linux network namespaces joined by veth pairs whose rate ``tc`` (htb) shapes.

Layout of one install (every name carries the install's prefix ``dy<6 hex of the run dir>``, so two
run directories never share a namespace, an interface or an address block):

- a namespace per node, ``<prefix>-<i>``, with ``lo`` up;
- a veth pair per pair of nodes (a full mesh), each end in its node's namespace with a /30 of the
  block's upper half; the node reaches the other node's address over it only (a /32 route);
- a bridge ``<prefix>br`` in the root namespace holding the host side of one more veth per node,
  so the runtime (health checks) and the backend reach every node's address; that veth carries no
  node-to-node traffic (the /32 routes send it over the pair links);
- ``htb`` on both ends of each shaped pair: each direction of a link is its own bottleneck, shared by
  every connection that crosses it, as on a real link.

``netem`` is not assumed: the kernel shapes the rate only; the sender adds a link's delay. Nor is
``plug``: an outage (rate 0) sets the class to ``OUTAGE_KBIT`` with a one-packet burst and leaves the
queue as it was, so what is queued waits there (the sender holds new transfers until the outage ends).
Everything runs ``ip``/``tc`` with a timeout; a command that fails raises :class:`NetnsError` naming it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from common.errors import Unavailable

MAX_NODES = 8
COMMAND_TIMEOUT_S = 10.0
BLOCK_BASE = "10.209.0.0/16"
OUTAGE_KBIT = 8
"""The least rate htb is given: an outage lets through one 1500-byte packet every 1.5 s at most."""

Runner = Callable[[Sequence[str]], str]


class NetnsError(Unavailable):
    code = "netns_failed"


def run_command(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetnsError(f"{' '.join(argv)}: {exc}") from None
    if done.returncode != 0:
        raise NetnsError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[:300]}")
    return done.stdout


def install_prefix(run_dir: str | Path) -> str:
    digest = hashlib.sha1(str(Path(run_dir).resolve()).encode()).hexdigest()[:6]
    return f"dy{digest}"


def unavailable_reason(runner: Runner = run_command) -> str | None:
    """Why namespaces cannot be used here (None when they can)."""
    if os.geteuid() != 0:
        return f"namespaces need root (running as uid {os.geteuid()})"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return f"`{tool}` (iproute2) is not installed"
    try:
        runner(["ip", "netns", "list"])
    except NetnsError as exc:
        return f"`ip netns` does not work: {exc.message}"
    return None


@dataclass
class PairNet:
    a: str
    b: str
    dev_a: str
    dev_b: str
    addr_a: str
    addr_b: str
    shaped: bool = False
    rate_mbps: float | None = None


@dataclass
class NetPlan:
    prefix: str
    block: str
    bridge: str
    host_address: str
    netns: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)
    pairs: list[PairNet] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> NetPlan:
        raw = dict(data)
        pairs = [PairNet(**p) for p in raw.pop("pairs", [])]  # type: ignore[attr-defined]
        return cls(**raw, pairs=pairs)  # type: ignore[arg-type]

    def pair(self, a: str, b: str) -> PairNet | None:
        for p in self.pairs:
            if {p.a, p.b} == {a, b}:
                return p
        return None


class Namespaces:
    """Creates, shapes and removes the namespaces of one install (one run directory)."""

    def __init__(self, run_dir: str | Path, *, runner: Runner = run_command) -> None:
        self.prefix = install_prefix(run_dir)
        self.run = runner

    # -- names --------------------------------------------------------------------------------
    def netns_name(self, index: int) -> str:
        return f"{self.prefix}-{index}"

    def owned_netns(self) -> list[str]:
        names = [line.split()[0] for line in self.run(["ip", "netns", "list"]).splitlines() if line.strip()]
        return sorted(n for n in names if n.startswith(self.prefix + "-"))

    def owned_links(self) -> list[str]:
        out = self.run(["ip", "-o", "link", "show"])
        names = [m.group(1) for m in re.finditer(r"^\d+:\s+([^:@\s]+)", out, re.MULTILINE)]
        return [n for n in names if n.startswith(self.prefix)]

    # -- create -------------------------------------------------------------------------------
    def _free_block(self) -> ipaddress.IPv4Network:
        """A /24 of 10.209/16 no address or route of the root namespace overlaps (start: the prefix's hash)."""
        used: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for cmd in (["ip", "-o", "-4", "addr", "show"], ["ip", "-4", "route", "show"]):
            for token in re.findall(r"(\d+\.\d+\.\d+\.\d+(?:/\d+)?)", self.run(cmd)):
                used.append(ipaddress.ip_network(token, strict=False))
        blocks = list(ipaddress.IPv4Network(BLOCK_BASE).subnets(new_prefix=24))
        start = int(self.prefix[2:], 16) % len(blocks)
        for k in range(len(blocks)):
            block = blocks[(start + k) % len(blocks)]
            if not any(block.overlaps(u) for u in used if u.prefixlen > 0):
                return block
        raise NetnsError(f"no free /24 in {BLOCK_BASE} for the node addresses")

    def create(self, nodes: Sequence[str], pairs: Sequence[tuple[str, str, float | None]]) -> NetPlan:
        """Namespaces for ``nodes`` and a link per pair ``(a, b, rate_mbps or None for unshaped)``.

        Every other pair of nodes gets an unshaped link, so any node reaches any other, as without
        namespaces. On failure whatever was made is removed again.
        """
        if len(nodes) > MAX_NODES:
            raise NetnsError(f"namespace mode supports up to {MAX_NODES} nodes, the deployment has {len(nodes)}")
        self.destroy()  # stale ones of an earlier run of this run dir
        block = self._free_block()
        hosts = list(block.hosts())
        plan = NetPlan(prefix=self.prefix, block=str(block), bridge=f"{self.prefix}br", host_address=str(hosts[0]))
        rates = {frozenset((a, b)): rate for a, b, rate in pairs}
        try:
            self._create(plan, list(nodes), rates, hosts)
        except BaseException:
            self.destroy()
            raise
        return plan

    def _create(
        self,
        plan: NetPlan,
        nodes: list[str],
        rates: dict[frozenset[str], float | None],
        hosts: list[ipaddress.IPv4Address],
    ) -> None:
        run = self.run
        run(["ip", "link", "add", plan.bridge, "type", "bridge"])
        run(["ip", "addr", "add", f"{plan.host_address}/25", "dev", plan.bridge])
        run(["ip", "link", "set", plan.bridge, "up"])
        for i, node in enumerate(nodes):
            ns = self.netns_name(i)
            plan.netns[node] = ns
            plan.addresses[node] = str(hosts[9 + i])  # .10, .11, ...
            run(["ip", "netns", "add", ns])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            host_side, node_side = f"{self.prefix}h{i}", f"{self.prefix}g{i}"
            run(["ip", "link", "add", host_side, "type", "veth", "peer", "name", node_side, "netns", ns])
            run(["ip", "link", "set", host_side, "master", plan.bridge, "up"])
            run(["ip", "-n", ns, "addr", "add", f"{plan.addresses[node]}/25", "dev", node_side])
            run(["ip", "-n", ns, "link", "set", node_side, "up"])
        upper = list(ipaddress.IPv4Network(plan.block).subnets(new_prefix=25))[1].subnets(new_prefix=30)
        k = 0
        for i, a in enumerate(nodes):
            for b in nodes[i + 1 :]:
                subnet = next(upper)
                ends = list(subnet.hosts())
                rate = rates.get(frozenset((a, b)))
                pair = PairNet(
                    a=a,
                    b=b,
                    dev_a=f"{self.prefix}p{k}a",
                    dev_b=f"{self.prefix}p{k}b",
                    addr_a=str(ends[0]),
                    addr_b=str(ends[1]),
                    shaped=rate is not None,
                    rate_mbps=rate,
                )
                k += 1
                self._pair(plan, pair)
                plan.pairs.append(pair)

    def _pair(self, plan: NetPlan, pair: PairNet) -> None:
        ns_a, ns_b = plan.netns[pair.a], plan.netns[pair.b]
        self.run(
            ["ip", "link", "add", pair.dev_a, "netns", ns_a, "type", "veth", "peer", "name", pair.dev_b, "netns", ns_b]
        )
        for ns, dev, addr, me, other in (
            (ns_a, pair.dev_a, pair.addr_a, pair.a, pair.b),
            (ns_b, pair.dev_b, pair.addr_b, pair.b, pair.a),
        ):
            peer = pair.addr_b if dev == pair.dev_a else pair.addr_a
            self.run(["ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", dev])
            # MTU-sized packets (no 64 KiB GSO bursts), so the short queue below drops like a real link's.
            self.run(["ip", "-n", ns, "link", "set", dev, "gso_max_size", "1500", "up"])
            # The other node's address goes over this link (more specific than the bridge's /25).
            route = [f"{plan.addresses[other]}/32", "via", peer, "dev", dev, "src", plan.addresses[me]]
            self.run(["ip", "-n", ns, "route", "add", *route])
            if pair.rate_mbps is not None:
                self._tc(ns, "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "1")
                self._tc(ns, "class", "add", "dev", dev, *self._class(pair.rate_mbps))
                self._tc(ns, "qdisc", "add", "dev", dev, *self._queue(pair.rate_mbps))

    def _tc(self, ns: str, *args: str) -> None:
        self.run(["ip", "netns", "exec", ns, "tc", *args])

    @staticmethod
    def _class(rate_mbps: float) -> list[str]:
        kbit = max(OUTAGE_KBIT, round(rate_mbps * 1000))
        # A burst of ~5 ms at the rate (at least one full-size segment) keeps short-term rate close; in an
        # outage one packet, so the queue is not flushed as the outage begins.
        burst = max(16 * 1024, int(rate_mbps * 1e6 / 8 * 0.005)) if rate_mbps > 0 else 1600
        rate = f"{kbit}kbit"
        return [
            "parent",
            "1:",
            "classid",
            "1:1",
            "htb",
            "rate",
            rate,
            "ceil",
            rate,
            "burst",
            f"{burst}",
            "cburst",
            f"{burst}",
        ]

    @staticmethod
    def _queue(rate_mbps: float) -> list[str]:
        # A drop-tail queue of ~100 ms at the rate (at least 64 KiB): senders that overrun it lose packets
        # and back off, so concurrent flows converge to a share instead of one filling a deep queue.
        limit = max(64 * 1024, int(rate_mbps * 1e6 / 8 * 0.1))
        return ["parent", "1:1", "handle", "10:", "bfifo", "limit", str(limit)]

    def set_rate(self, plan: NetPlan, a: str, b: str, rate_mbps: float) -> None:
        """Change the rate of link a-b in both directions (the trace advanced); 0 is an outage."""
        pair = plan.pair(a, b)
        if pair is None or not pair.shaped:
            raise NetnsError(f"no shaped link {a}-{b} in this install")
        for node, dev in ((pair.a, pair.dev_a), (pair.b, pair.dev_b)):
            ns = plan.netns[node]
            self._tc(ns, "class", "change", "dev", dev, *self._class(rate_mbps))
            if rate_mbps > 0:  # an outage keeps the queue it had, so nothing queued is dropped by it
                self._tc(ns, "qdisc", "change", "dev", dev, *self._queue(rate_mbps))
        pair.rate_mbps = rate_mbps

    # -- remove -------------------------------------------------------------------------------
    def destroy(self) -> list[str]:
        """Remove every namespace and interface of this install (also those of an earlier crashed run)."""
        removed = []
        for ns in self.owned_netns():
            try:
                self.run(["ip", "netns", "delete", ns])  # takes its veth ends, and their peers, with it
                removed.append(ns)
            except NetnsError:
                pass
        for dev in self.owned_links():
            try:
                self.run(["ip", "link", "delete", dev])
                removed.append(dev)
            except NetnsError:
                pass
        return removed

    def exec_prefix(self, plan: NetPlan, node: str) -> list[str]:
        """Command prefix that runs a process inside ``node``'s namespace."""
        return ["ip", "netns", "exec", plan.netns[node]]
