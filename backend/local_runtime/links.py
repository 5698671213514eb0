"""How the local runtime emulates the links between its virtual nodes, and the state it keeps about them.

Two modes:

- ``netns``: each node is a network namespace, links are shaped veth pairs (:mod:`backend.local_runtime.netns`);
  components run inside their node's namespace and listen on its address. While a link follows a
  trace, a small driver process (``python -m backend.local_runtime.links drive RUN_DIR``) changes the ``tc``
  rate as the trace advances. Needs root and iproute2.
- ``process``: every component listens on loopback and delays its own transfers
  (:mod:`common.shaping`); bookings are shared through files under ``<run_dir>/links/``, so all senders
  over one link share its rate.

``auto`` (and ``netns`` when it cannot be had) falls back to ``process``; the reason is kept in
``<run_dir>/links.json`` with the mode that ran, and shown by ``status``.

Traces replay from install time by default (``trace_clock="install"``). With ``trace_clock="held"`` every
trace stays at its first row until :meth:`LinkEmulation.start_traces` starts the clock, so an experiment
can put a trace's changes inside the time it measures, whatever the install took.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from backend.local_runtime.netns import Namespaces, NetnsError, NetPlan, unavailable_reason
from backend.local_runtime.processes import ProcessRecord
from common.errors import Conflict
from common.topology import LinkModel
from common.trace import Trace, load_trace

log = logging.getLogger(__name__)

LinkModeChoice = Literal["auto", "process", "netns"]
TraceClock = Literal["install", "held"]
DRIVER_TICK_S = 0.25
MIN_SLEEP_S = 0.005
"""Rows closer than this are applied together: a ``tc`` change takes a few milliseconds itself."""
STATE_FILE = "links.json"


class LinkEmulation:
    """Sets up, describes and removes the links of one run directory."""

    def __init__(self, run_dir: Path, *, host: str = "127.0.0.1") -> None:
        self.run_dir = run_dir
        self.host = host
        self.namespaces = Namespaces(run_dir)

    @property
    def state_path(self) -> Path:
        return self.run_dir / STATE_FILE

    @property
    def bookings_dir(self) -> Path:
        return self.run_dir / "links"

    def state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def plan(self) -> NetPlan | None:
        raw = self.state().get("netns")
        return NetPlan.from_dict(raw) if isinstance(raw, dict) else None

    # -- set up -------------------------------------------------------------------------------
    def setup(
        self,
        nodes: list[str],
        links: list[LinkModel],
        requested: LinkModeChoice,
        host_ports: Sequence[int] = (),
        trace_clock: TraceClock = "install",
    ) -> dict[str, Any]:
        """Bring the links up in ``requested`` mode (or the fallback) and record what ran.

        ``host_ports``: ports of the host's loopback (the datasource) the nodes reach at their own
        127.0.0.1 in netns mode. ``trace_clock``: traces start now (``install``) or when
        :meth:`start_traces` is called (``held``).
        """
        self.teardown()
        started = time.time() if trace_clock == "install" else None
        state: dict[str, Any] = {
            "requested": requested,
            "mode": "process",
            "reason": None,
            "trace_clock": trace_clock,
            "trace_start": started,
        }
        if requested in ("auto", "netns"):
            reason = unavailable_reason(self.namespaces.run)
            if reason is None:
                try:
                    pairs = [(link.a, link.b, _initial_rate(link)) for link in links]
                    plan = self.namespaces.create(nodes, pairs)
                    state.update(mode="netns", netns=plan.to_dict())
                except NetnsError as exc:
                    reason = exc.message
            if reason is not None:
                state["reason"] = f"{requested} link mode unavailable, shaping in process: {reason}"
                log.warning("%s", state["reason"])
        if state["mode"] == "process":
            self.bookings_dir.mkdir(parents=True, exist_ok=True)
            for stale in self.bookings_dir.glob("*.link"):  # an earlier run's queue is not this one's
                stale.unlink(missing_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(json.dumps(state, indent=2))
        made = self.plan()
        if made is not None:
            if any(link.trace for link in links):
                self._spawn_helper("link-driver", ["backend.local_runtime.links", "drive", str(self.run_dir)])
            if host_ports:
                namespaces = ",".join(made.netns.values())
                ports = ",".join(str(p) for p in host_ports)
                self._spawn_helper("host-ports", ["backend.local_runtime.hostports", namespaces, ports])
        return state

    def topology_links(self, links: list[LinkModel]) -> list[LinkModel]:
        """The links as components see them: traces with the time their replay started (held: not yet)."""
        start = self.state().get("trace_start")
        update = {"trace_start": start, "trace_held": start is None}
        return [link.model_copy(update=update) if link.trace else link for link in links]

    def start_traces(self, at: float | None = None) -> float:
        """Start the clock of held traces at wall-clock ``at`` (default now); returns it. Restarting moves it."""
        state = self.state()
        if not state:
            raise Conflict(f"no links are set up in {self.run_dir}")
        start = time.time() if at is None else float(at)
        state["trace_start"] = start
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, self.state_path)
        return start

    def mode(self) -> str:
        return str(self.state().get("mode", "process"))

    def address(self, node: str) -> str:
        """Where the components of ``node`` listen (and are reached)."""
        plan = self.plan()
        return plan.addresses.get(node, self.host) if plan is not None else self.host

    def command(self, node: str, argv: list[str]) -> list[str]:
        plan = self.plan()
        if plan is None or node not in plan.netns:
            return argv
        return [*self.namespaces.exec_prefix(plan, node), *argv]

    def describe(self, links: list[LinkModel]) -> dict[str, Any]:
        """Mode, fallback reason and, per link, its trace and the rate in force now."""
        state = self.state()
        start = state.get("trace_start")
        plan = self.plan()
        out = []
        for link in links:
            entry: dict[str, Any] = {
                "a": link.a,
                "b": link.b,
                "bandwidth_mbps": link.bandwidth_mbps,
                "latency_ms": link.latency_ms,
                "trace": link.trace,
                "trace_mode": link.trace_mode if link.trace else None,
                "current_mbps": link.bandwidth_mbps,
            }
            if link.trace:
                with contextlib.suppress(Exception):
                    trace = load_trace(link.trace, mode=link.trace_mode)
                    entry["current_mbps"] = _rate_now(trace, start)
            if plan is not None:
                pair = plan.pair(link.a, link.b)
                entry["tc_rate_mbps"] = pair.rate_mbps if pair is not None else None
            out.append(entry)
        return {
            "mode": state.get("mode"),
            "requested": state.get("requested"),
            "reason": state.get("reason"),
            "trace_clock": state.get("trace_clock", "install"),
            "trace_start": start,
            "links": out,
        }

    # -- helper processes (netns mode): the trace driver, the host-port relay ----------------------
    @property
    def helpers_dir(self) -> Path:
        return self.bookings_dir / "helpers"

    def _spawn_helper(self, name: str, argv: list[str]) -> None:
        self.helpers_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.run_dir / "logs" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        repo = Path(__file__).resolve().parents[2]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo), env.get("PYTHONPATH")]))
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", *argv],
                cwd=repo,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        record = ProcessRecord(
            name=name,
            pid=proc.pid,
            pgid=proc.pid,
            create_time=_create_time(proc.pid),
            port=None,
            node="",
            component=name,
            log=str(log_path),
        )
        record.save(self.helpers_dir)

    def _stop_helpers(self) -> None:
        if not self.helpers_dir.is_dir():
            return
        for path in sorted(self.helpers_dir.glob("*.json")):
            record = ProcessRecord.load(path)
            if record is not None and record.alive():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(record.pgid, signal.SIGTERM)
                deadline = time.monotonic() + 3.0
                while record.alive() and time.monotonic() < deadline:
                    with contextlib.suppress(ChildProcessError, OSError):
                        os.waitpid(record.pid, os.WNOHANG)
                    time.sleep(0.05)
                if record.alive():
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(record.pgid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(record.pid, 0)
            path.unlink(missing_ok=True)

    # -- remove -------------------------------------------------------------------------------
    def teardown(self) -> list[str]:
        """Stop the helpers and remove this install's namespaces and interfaces (also stale ones)."""
        self._stop_helpers()
        removed: list[str] = []
        if unavailable_reason(self.namespaces.run) is None:
            try:
                removed = self.namespaces.destroy()
            except NetnsError as exc:
                log.warning("could not remove the namespaces of %s: %s", self.run_dir, exc)
        state = self.state()
        if state.get("mode") == "netns":
            state.pop("netns", None)
            state["mode"] = None
            self.state_path.write_text(json.dumps(state, indent=2))
        return removed


def _initial_rate(link: LinkModel) -> float | None:
    if link.trace:
        return load_trace(link.trace, mode=link.trace_mode).initial_rate()
    return link.bandwidth_mbps


def _rate_now(trace: Trace, start: float | None) -> float:
    """The rate in force now for a replay that started at wall-clock ``start`` (None: not yet, held)."""
    return trace.rate_at(time.time() - float(start)) if start is not None else trace.initial_rate()


def _create_time(pid: int) -> float:
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return time.time()


def drive(run_dir: Path, *, tick: float = DRIVER_TICK_S, max_runtime_s: float | None = None) -> int:
    """Follow each traced link's trace with ``tc``; ends when the namespaces are gone or on SIGTERM."""
    emulation = LinkEmulation(run_dir)
    spec = json.loads((run_dir / "runtime.json").read_text())
    links = [LinkModel.model_validate(item) for item in spec.get("links", [])]
    plan = emulation.plan()
    if plan is None:
        return 0
    traces: list[tuple[LinkModel, Trace]] = [
        (link, load_trace(link.trace, mode=link.trace_mode)) for link in links if link.trace
    ]
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    began = time.monotonic()
    while not stopping:
        if max_runtime_s is not None and time.monotonic() - began > max_runtime_s:
            break
        start = emulation.state().get("trace_start")  # read each tick: a held trace starts later
        offset = time.time() - float(start) if start is not None else 0.0
        for link, trace in traces:
            rate = _rate_now(trace, start)
            pair = plan.pair(link.a, link.b)
            if pair is None or pair.rate_mbps == rate:
                continue
            try:
                emulation.namespaces.set_rate(plan, link.a, link.b, rate)
                print(f"{offset:8.2f}s {link.a}-{link.b} -> {rate:g} Mbit/s", flush=True)
            except NetnsError as exc:
                if not emulation.namespaces.owned_netns():
                    return 0  # the install is gone
                print(f"{offset:8.2f}s {link.a}-{link.b}: {exc.message}", flush=True)
        time.sleep(_until_next_row(traces, start, tick))
    return 0


def _until_next_row(traces: list[tuple[LinkModel, Trace]], start: float | None, tick: float) -> float:
    """Seconds to the next row of any trace (so a step is applied at its start, not up to a tick late),
    at most ``tick`` (a held start is read again each tick) and at least ``MIN_SLEEP_S``."""
    if start is None:
        return tick
    offset = time.time() - float(start)
    nearest = min((trace.next_change(offset) - offset for _, trace in traces), default=tick)
    return max(MIN_SLEEP_S, min(tick, nearest))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.local_runtime.links")
    sub = parser.add_subparsers(dest="action", required=True)
    driver = sub.add_parser("drive", help="follow the traces of RUN_DIR's links with tc (netns mode)")
    driver.add_argument("run_dir", type=Path)
    args = parser.parse_args(argv)
    return drive(args.run_dir.resolve())


if __name__ == "__main__":
    raise SystemExit(main())
