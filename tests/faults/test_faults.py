"""Faults on the local runtime: the platform brought up by ``dayu.sh`` from the default template, the
default DAG (face-detection) installed for both sources of the default datasource (synthetic cameras
served by the datasource service). The backend is killed (``kill -9``) while the install deploys its
second stage; then one component of each type in turn; then an edge node's link to the cloud is cut
and restored (network-namespace link mode, which the module uses wherever it works: root and
iproute2); then the backend again, after the install.

For each fault: the time until the platform recovered with no manual step (the component serves again,
the install is no longer degraded, and every source has a new result), and at the end the exact
accounting: every task the generators made (their task ids, kept across a generator restart) ends at
the distributor exactly once, as a result or as a drop record with a reason. One install serves every
fault: each later fault starts from a recovered platform, which is what the accounting checks anyway.
While a component is down, the install's event stream (``/api/install/events``, read here instead of
polling) must say ``degraded`` naming it, then ``installed`` again: the backend follows the components'
health by itself.

Figures are printed (``-s``) and recorded in docs/reliability.md; none is asserted as a speed target.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest

from backend.local_runtime.netns import unavailable_reason
from tests.e2e.cluster import wait_until
from tests.faults.links import cut_link
from tests.faults.platform import SOURCES, Platform, dayu, start_platform

# The first test's time includes bringing the platform up and installing twice (the fixture).
pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]
COMPONENTS = ("processor", "controller", "distributor", "scheduler", "monitor", "generator")
RECOVERY_TIMEOUT_S = 90.0
CUT_S = 10.0
NETNS_UNAVAILABLE = unavailable_reason()
MID_INSTALL: dict[str, Any] = {}
FIGURES: dict[str, float] = {}


def component_records(p: Platform) -> dict[str, tuple[int, float]]:
    """Name -> (pid, start time) of every component process the local runtime has recorded."""
    out = {}
    for path in p.run.rglob("pids/*.json"):
        if path.parent == p.run / "pids" or "stopping" in path.parts:
            continue  # dayu.sh's own (backend, datasource)
        with contextlib.suppress(OSError, ValueError, KeyError):
            record = json.loads(path.read_text())
            out[path.stem] = (int(record["pid"]), float(record["create_time"]))
    return out


def still_running(pid: int, started: float) -> bool:
    try:
        proc = psutil.Process(pid)
        return abs(proc.create_time() - started) < 1.0 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def kill_backend_mid_install(p: Platform) -> None:
    """``kill -9`` of the backend once it deploys stage 2 (stage-1 components run, stage-2 ones are being
    started), then ``dayu.sh start`` as a service manager would; figures are kept for the test below."""
    wait_until(lambda: p.api("GET", "/api/install")["step"] == "stage2", timeout=180, what="stage 2 of the install")
    before = component_records(p)
    backend = json.loads((p.run / "pids" / "backend.json").read_text())
    killed_at = time.monotonic()
    os.kill(backend["pid"], signal.SIGKILL)
    wait_until(lambda: not still_running(backend["pid"], backend["create_time"]), timeout=60, what="backend gone")
    started = dayu("start", p.template, p.home)
    assert started.returncode == 0, started.stdout + started.stderr
    p.url = (p.run / "backend.url").read_text().strip()
    states = []

    def installed() -> bool:
        state = p.api("GET", "/api/install")
        states.append((state["phase"], state.get("step"), (state.get("error") or {}).get("code")))
        # "failed" with code "recovering" is the restarted backend still removing what the first attempt left
        return state["phase"] == "installed" or (state["phase"] == "failed" and states[-1][2] != "recovering")

    wait_until(installed, timeout=300, what="the interrupted install to finish")
    MID_INSTALL.update(
        recovery=time.monotonic() - killed_at,
        before=before,
        state=p.api("GET", "/api/install"),
        seen=list(dict.fromkeys(states)),
    )


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    mode = "netns" if NETNS_UNAVAILABLE is None else None
    with start_platform(
        tmp_path_factory.mktemp("faults"), link_mode=mode, during_install=kill_backend_mid_install
    ) as p:
        yield p


class InstallEvents:
    """Reads ``/api/install/events`` in a thread: (phase, degraded_reason) of every event, in order."""

    def __init__(self, p: Platform) -> None:
        self.url = f"{p.url}/api/install/events"
        self.http = p.http
        self.seen: list[tuple[str, str | None]] = []
        self.opened = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)

    def __enter__(self) -> InstallEvents:
        self.thread.start()
        assert self.opened.wait(10), "the install event stream did not open"
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)

    def index_of(self, phase: str, named: str) -> int | None:
        """Index of the first event in ``phase`` whose reason names ``named`` (None: not seen yet)."""
        found = [i for i, (ph, reason) in enumerate(self.seen) if ph == phase and named in (reason or "")]
        return found[0] if found else None

    def _read(self) -> None:
        with self.http.stream("GET", self.url, params={"keepalive": 1}, timeout=10) as response:
            assert response.status_code == 200, response.status_code
            for line in response.iter_lines():
                if line.startswith("data: "):
                    state = json.loads(line[len("data: ") :])
                    self.seen.append((state["phase"], state.get("degraded_reason")))
                    self.opened.set()
                if self.stop.is_set():
                    return


def test_kill_9_of_the_backend_during_an_install_finishes_it_with_no_manual_step(platform: Platform) -> None:
    """The restarted backend removes what the interrupted install deployed and installs again from the stored
    request; nothing of the first attempt is left running."""
    p, fault = platform, MID_INSTALL
    state = fault["state"]
    assert state["phase"] == "installed", fault["seen"]
    assert "resumed" in [e["step"] for e in state["progress"]], state["progress"]
    now = component_records(p)
    left = [
        n
        for n, (pid, started) in fault["before"].items()
        if still_running(pid, started) and now.get(n) != (pid, started)
    ]
    assert left == [], f"left running by the interrupted install: {left}"
    reused = [n for n, rec in now.items() if fault["before"].get(n) == rec]
    assert reused == [], f"kept from the interrupted install instead of deployed again: {reused}"
    FIGURES["backend during install"] = fault["recovery"]
    print(
        f"\nkill -9 backend in stage 2 ({len(fault['before'])} components running): installed again in "
        f"{fault['recovery']:.1f}s; states seen {fault['seen']}"
    )


def recovered(p: Platform, name: str, old_pid: int, after: dict[str, int]) -> bool:
    try:
        state = p.api("GET", "/api/install")
        if state.get("phase") != "installed":
            return False
        if p.pid_record(name)["pid"] == old_pid:
            return False
        seqs = p.last_result_seq()
    except (httpx.HTTPError, StopIteration, OSError, ValueError, AssertionError):
        return False
    return all(seqs[s] > after[s] for s in SOURCES)


@pytest.mark.parametrize("component", COMPONENTS)
def test_kill_9_of_each_component_type_recovers_by_itself(platform: Platform, component: str) -> None:
    p = platform
    instances = p.api("GET", "/api/instances")
    ours = [i for i in instances if i["component"] == component]
    assert ours, instances
    # The busiest one: the processor, controller or generator on the node that runs cam0's generator.
    node = p.placement()["cam0"]
    chosen = next((i for i in ours if i["node"] == node and i.get("source_id") in (None, "cam0")), ours[0])
    name = chosen["name"]
    record = p.pid_record(name)
    before = p.last_result_seq()
    with InstallEvents(p) as events:
        killed_at = time.monotonic()
        os.kill(record["pid"], signal.SIGKILL)
        wait_until(lambda: p.pid_record(name)["pid"] != record["pid"], timeout=30, what=f"{name} replaced")
        # Pushed by the backend as the component went down, not computed for a poll. Waited for before
        # "recovered" is looked at: results keep flowing while a scheduler or monitor is down, so without
        # this a still-installed state read before the backend's next health look would pass for recovery.
        wait_until(lambda: events.index_of("degraded", name) is not None, timeout=30, what=f"degraded naming {name}")
        down = events.index_of("degraded", name) or 0
        wait_until(lambda: recovered(p, name, record["pid"], before), timeout=RECOVERY_TIMEOUT_S, what=f"{name} back")
        FIGURES[component] = time.monotonic() - killed_at
        wait_until(
            lambda: events.seen[-1][0] == "installed" and len(events.seen) - 1 > down,
            timeout=10,
            what="the event saying installed",
        )
    assert events.seen[-1] == ("installed", None), events.seen
    restarted = next(i for i in p.api("GET", "/api/instances") if i["name"] == name)
    assert restarted["ready"] and restarted["restarts"] >= 1, restarted
    print(f"\nkill -9 {name}: recovered in {FIGURES[component]:.1f}s")


def test_cutting_an_edge_link_delays_or_drops_with_a_reason_and_recovers(platform: Platform) -> None:
    """The link between cam0's edge node and the cloud is blackholed both ways for CUT_S seconds, then
    restored; tasks made meanwhile arrive late or are dropped with a reason (the last test counts every
    one), and results of tasks made after the restore flow again."""
    if NETNS_UNAVAILABLE is not None:
        pytest.skip(
            f"the link cut needs the network-namespace link mode, which cannot run here: {NETNS_UNAVAILABLE}; "
            "it runs where the tests have root and iproute2 (as CI does: hack/system-deps.sh installs iproute2)"
        )
    p = platform
    links = p.api("GET", "/api/install")["links"]
    assert links["mode"] == "netns", links  # it can run here, so the install must have used it
    edge = p.placement()["cam0"]
    cloud = next(n for n, spec in p.topology().nodes().items() if spec.role == "cloud")
    first = {s: p.generator_status(s)["next_task_id"] for s in SOURCES}
    with cut_link(p.run, edge, cloud):
        time.sleep(CUT_S)  # the fault's length, not a wait for something to happen
        made_during = {s: p.generator_status(s)["next_task_id"] for s in SOURCES}
    restored_at = time.monotonic()
    restored_wall = time.time()  # the distributor stamps records with the wall clock
    wait_until(
        lambda: all(p.last_result_seq()[s] >= made_during[s] for s in SOURCES),
        timeout=RECOVERY_TIMEOUT_S,
        what="results of tasks made after the link came back",
    )
    fault = f"link {edge}-{cloud} cut {CUT_S:g}s"
    FIGURES[fault] = time.monotonic() - restored_at
    cut_ids = {s: set(range(first[s], made_during[s])) for s in SOURCES}
    assert any(cut_ids.values()), "no task was made while the link was cut"

    def cut_records() -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {s: [] for s in SOURCES}
        for r in p.records():
            if r["task_id"] in cut_ids.get(r["source_id"], ()):
                found[r["source_id"]].append(r)
        return found

    def every_one_recorded() -> dict[str, list[dict[str, Any]]] | None:
        found = cut_records()
        return found if all({r["task_id"] for r in found[s]} >= cut_ids[s] for s in SOURCES) else None

    wait_until(every_one_recorded, timeout=RECOVERY_TIMEOUT_S, what="a record for every task made during the cut")
    found = cut_records()
    outcome = {
        s: collections.Counter(r["kind"] if r["kind"] == "result" else f"drop {r['reason']}" for r in found[s])
        for s in SOURCES
    }
    print(
        f"\n{fault}: results of new tasks {FIGURES[fault]:.1f}s after the restore; tasks made during the cut "
        f"{ {src: len(ids) for src, ids in cut_ids.items()} }: {outcome}"
    )
    for s in SOURCES:
        per_task = collections.Counter(r["task_id"] for r in found[s])
        assert set(per_task) == cut_ids[s], (s, sorted(cut_ids[s] - set(per_task)))
        assert all(n == 1 for n in per_task.values()), (s, {i: n for i, n in per_task.items() if n > 1})
        drops = [r for r in found[s] if r["kind"] == "drop"]
        assert all(r["reason"] for r in drops), drops
    # The cut was felt: tasks of the source behind it were dropped, or their records came only after the restore.
    behind = [s for s in SOURCES if p.placement()[s] == edge]
    felt = [r for s in behind for r in found[s] if r["kind"] == "drop" or r["stored_at"] >= restored_wall]
    assert felt, f"no task made during the cut of {edge} was late or dropped: {outcome}"


def test_kill_9_of_the_backend_leaves_the_data_path_running(platform: Platform) -> None:
    p = platform
    before = p.last_result_seq()
    backend = json.loads((p.run / "pids" / "backend.json").read_text())
    killed_at = time.monotonic()
    os.kill(backend["pid"], signal.SIGKILL)
    # The components do not need the backend: results go on while it is down.
    wait_until(lambda: all(p.last_result_seq()[s] > before[s] for s in SOURCES), timeout=60, what="results")
    started = dayu("start", p.template, p.home)  # what an operator's service manager does
    assert started.returncode == 0, started.stdout + started.stderr
    p.url = (p.run / "backend.url").read_text().strip()
    wait_until(lambda: p.api("GET", "/api/install")["phase"] == "installed", timeout=60, what="the backend")
    FIGURES["backend"] = time.monotonic() - killed_at
    state = p.api("GET", "/api/install")
    assert state["phase"] == "installed" and state["degraded_reason"] is None, state
    print(f"\nkill -9 backend: serving again in {FIGURES['backend']:.1f}s (results never stopped)")


def test_every_task_made_is_accounted_for_exactly_once(platform: Platform) -> None:
    p = platform
    p.api("POST", "/api/query/close")
    made = {s: p.generator_status(s)["next_task_id"] for s in SOURCES}

    def settled() -> list[dict[str, Any]] | None:
        records = p.records()
        ids = collections.defaultdict(set)
        for r in records:
            ids[r["source_id"]].add(r["task_id"])
        return records if all(ids[s] >= set(range(made[s])) for s in SOURCES) else None

    with contextlib.suppress(AssertionError):  # what is still missing then is named by the asserts below
        wait_until(settled, timeout=60, what="a record for every task made")
    time.sleep(1.0)
    records = p.records()
    table = []
    for s in SOURCES:
        mine = [r for r in records if r["source_id"] == s]
        by_id = collections.Counter(r["task_id"] for r in mine)
        results = [r for r in mine if r["kind"] == "result"]
        drops = collections.Counter(r["reason"] for r in mine if r["kind"] == "drop")
        missing = sorted(set(range(made[s])) - set(by_id))
        duplicates = sorted(i for i, n in by_id.items() if n > 1)
        table.append((s, made[s], len(results), dict(drops), missing, duplicates))
        print(
            f"\n{s}: made {made[s]}, results {len(results)}, drops {dict(drops)}, missing {missing}, dup {duplicates}"
        )
    print("\nrecovery:", {k: round(v, 1) for k, v in FIGURES.items()})
    for s, made_n, results_n, dropped, missing, duplicates in table:
        assert missing == [] and duplicates == [], (s, missing, duplicates)
        assert results_n + sum(dropped.values()) == made_n, (s, made_n, results_n, dropped)
        assert all(reason for reason in dropped), dropped
