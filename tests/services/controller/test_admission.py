"""The controller's admission share: unit tests on an injected clock, then a real controller on loopback whose
stage (a small real FastAPI app standing in for a processor with a full queue) refuses tasks, so its replies
tell the sender to make fewer segments, and an upload from another node's controller learns it too."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from common.contracts.controller import TaskAccepted
from services.controller.admission import MAX_REASON, Admission, AdmissionConfig, Pressure, pressure_key
from services.controller.app import create_app
from services.controller.config import ControllerConfig, ControllerSettings
from tests import loopback
from tests.e2e.cluster import wait_until
from tests.servers import free_port, serve
from tests.services.controller.test_controller import Recorder, fake_distributor, make_task


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def admission(clock: Clock, **config: Any) -> Admission:
    return Admission(AdmissionConfig(interval_s=1.0, queue_target_s=0.5, **config), "edge1", clock)


def test_refusals_cut_the_share_to_what_the_stage_took_once_per_reaction_and_quiet_raises_it() -> None:
    clock = Clock()
    a = admission(clock, margin=1.0, increase=0.25)
    assert a.signal() == (1.0, "")

    def interval(served: int, refused: int) -> tuple[float, str]:
        for _ in range(served):
            a.waited("face", 0.1)
        for _ in range(refused):
            a.refused("face")
        clock.now += 1.0
        return a.signal()

    admit, reason = interval(6, 2)  # the stage took 3/4 of what came
    assert admit == 0.75 and "stage 'face' took 6 and refused 2 task(s)" in reason and "'edge1'" in reason
    # The same again: what came may still have been made under the share before (1.0), so no second cut...
    assert interval(3, 1)[0] == 0.75
    # ...but once the sources had a whole interval under 0.75 and the stage still took only 3/4 of it:
    assert interval(3, 1)[0] == 0.5625
    assert a.congested_intervals == 3
    clock.now += 2.0  # two quiet intervals
    assert a.signal()[0] == 1.0 and a.signal() == (1.0, "")


def test_the_controllers_own_limit_halves_the_share() -> None:
    clock = Clock()
    a = admission(clock)
    a.overloaded()
    clock.now += 1.0
    admit, reason = a.signal()
    assert admit == 0.5 and "in-flight limit" in reason


def test_a_long_queue_wait_is_congestion_a_short_one_is_not() -> None:
    clock = Clock()
    a = admission(clock, decrease=0.5)
    for wait in (0.1, 0.2, 0.3):
        a.waited("face", wait)
    clock.now += 1.0
    assert a.signal()[0] == 1.0
    for wait in (0.4, 0.9, 1.2):
        a.waited("face", wait)
    clock.now += 1.0
    admit, reason = a.signal()
    assert admit == 0.5 and "median stage queue wait 0.90s over 0.5s" in reason


def test_a_long_queue_cuts_the_share_to_what_the_stage_served_and_holds_while_it_drains() -> None:
    clock = Clock()
    a = admission(clock, margin=0.9)

    def interval(sent: int, served: int, wait: float) -> float:
        for _ in range(sent):
            a.sent("face")
        for _ in range(served):
            a.waited("face", wait)
        clock.now += 1.0
        return a.signal()[0]

    assert interval(20, 12, 0.8) == 0.54  # the stage served 12 of 20 sent: 0.9 x 12/20 of 1.0
    # The queue is still long, but what is sent (10) is under what the stage serves: it drains, no new cut.
    assert interval(10, 12, 0.9) == 0.54
    assert interval(10, 12, 0.7) == 0.54
    assert a.congested_intervals == 3
    assert interval(10, 12, 0.2) == 0.59  # short again: the share grows


def test_sends_that_alias_with_the_interval_do_not_cut_past_what_the_stage_serves() -> None:
    """Segments of 0.8 s put one or two bursts of each of 12 sources in a 1-s interval: 12 and 24 tasks sent in
    turn while the stage serves 14 a second. Counted per interval, the second cut to 0.9 x 14/24 = 0.525; over
    the window the stage is seen to take 28 of the 36 sent: 0.9 x 28/36 = 0.7, which then holds."""
    clock = Clock()
    a = admission(clock, margin=0.9, window_s=4.0)
    shares = []
    for sent in (12, 24, 12):
        for _ in range(sent):
            a.sent("face")
        for _ in range(14):
            a.waited("face", 0.8)  # a long queue (target 0.5): the stage served its capacity
        clock.now += 1.0
        shares.append(a.signal()[0])
    assert shares == [1.0, 0.7, 0.7]  # 14 served of 12 sent alone: the queue drains, no cut
    assert a.estimate == pytest.approx(28 / 36)


def long_queue_interval(a: Admission, clock: Clock) -> None:
    """One interval in which 20 tasks were sent to a stage whose queue stayed long and which served 12."""
    for _ in range(20):
        a.sent("face")
    for _ in range(12):
        a.waited("face", 0.8)
    clock.now += 1.0


def test_after_a_cut_the_share_climbs_back_to_the_estimate_in_a_few_intervals_then_probes() -> None:
    clock = Clock()
    a = admission(clock, margin=0.9)
    long_queue_interval(a, clock)
    assert a.signal()[0] == 0.54 and a.estimate == pytest.approx(0.6)
    shares = []
    for _ in range(4):
        clock.now += 1.0  # quiet: nothing waited
        shares.append(a.signal()[0])
    # Half the way back to 0.6 but at least 0.05, then 0.05 an interval over it (the fixed 0.05 of before took
    # the same steps here; from a cut to 0.3 under an estimate of 0.6, though, it took 0.35, 0.4, 0.45).
    assert shares == [0.59, 0.64, 0.69, 0.74]
    low = admission(clock, margin=0.5)
    long_queue_interval(low, clock)
    assert low.signal()[0] == 0.3
    climb = []
    for _ in range(3):
        clock.now += 1.0
        climb.append(low.signal()[0])
    assert climb == [0.45, 0.525, 0.575]


def test_a_filling_queue_holds_the_share_over_its_estimate_and_a_short_one_lets_it_grow() -> None:
    clock = Clock()
    a = admission(clock, margin=0.9)
    long_queue_interval(a, clock)
    a.signal()
    for _ in range(3):
        clock.now += 1.0
        a.signal()
    assert a.signal()[0] == 0.69  # over the estimate (0.6) now
    a.waited("face", 0.4)  # over half the target (0.5): the queue is filling
    clock.now += 1.0
    assert a.signal()[0] == 0.69
    a.waited("face", 0.2)
    clock.now += 1.0
    assert a.signal()[0] == 0.74


def _closed_loop(a: Admission, clock: Clock, *, capacity: float, offered: float, seconds: int) -> list[int]:
    """Sources offering ``offered`` tasks/s at the share ``a`` tells them, a stage serving ``capacity``
    tasks/s from a FIFO queue of 40 (refusing beyond it); the tasks it served in each second."""
    tick, budget, owed = 0.05, 0.0, 0.0
    queue: list[float] = []  # when each waiting task arrived
    served_per_s: list[int] = []
    for _ in range(seconds):
        served = 0
        for _ in range(round(1 / tick)):
            clock.now += tick
            owed += offered * a.signal()[0] * tick
            while owed >= 1.0:
                owed -= 1.0
                a.sent("face")
                if len(queue) >= 40:
                    a.refused("face")
                else:
                    queue.append(clock.now)
            budget = budget + capacity * tick if queue else 0.0  # an idle stage saves no capacity
            while queue and budget >= 1.0:
                budget -= 1.0
                a.waited("face", clock.now - queue.pop(0))
                served += 1
        served_per_s.append(served)
    return served_per_s


@pytest.mark.parametrize("overload", [1.2, 1.5, 2.0, 3.0])
def test_under_overload_the_stage_stays_busy(overload: float) -> None:
    """The share follows a stage of 12 tasks/s under sources offering 1.2-3x that: after the first cuts the
    stage serves at least 95 % of its capacity in every 10-second stretch. A fixed cut per interval with a
    long queue fell to 87-93 % here (the queue lags the share, so it cut again and again until the stage ran
    dry), and to 69-73 % of the best in the bench's scale section at 1.1-1.35x its stream bound."""
    clock = Clock()
    a = Admission(AdmissionConfig(interval_s=1.0, queue_target_s=1.0), "edge1", clock)
    served = _closed_loop(a, clock, capacity=12.0, offered=12.0 * overload, seconds=120)
    stretches = [sum(served[i : i + 10]) / 10 for i in range(20, 120, 10)]
    assert min(stretches) >= 0.95 * 12.0, stretches
    assert a.congested_intervals > 0  # it was overloaded, and the share did follow


def test_the_share_has_a_floor_and_can_be_turned_off() -> None:
    clock = Clock()
    a = admission(clock, min_admit=0.05)
    for _ in range(3):
        a.refused("face")  # took none
        clock.now += 1.0
    assert a.signal()[0] == 0.05
    off = admission(clock, enabled=False)
    off.refused("face")
    clock.now += 1.0
    assert off.signal() == (1.0, "")


def test_every_reason_opens_with_stable_codes_and_its_node_and_the_key_is_read_back() -> None:
    """The codes say which signal cut the share (one or more in one interval), and ``recovering`` while it
    grows back; :func:`pressure_key` reduces any reason (or a text quoting one) to ``node:codes``."""
    clock = Clock()
    a = admission(clock, margin=1.0, increase=0.25)
    a.refused("face")
    a.waited("face", 0.1)
    a.overloaded()
    clock.now += 1.0
    admit, reason = a.signal()
    assert admit == 0.5 and reason.startswith("[queue_full+in_flight] node 'edge1': stage 'face' took 1"), reason
    assert pressure_key(reason) == "edge1:queue_full+in_flight"
    clock.now += 1.0  # a quiet interval: the share grows back, and the reason says so and keeps the cause
    admit, reason = a.signal()
    assert admit == 0.75 and reason.startswith("[recovering+queue_full+in_flight] node 'edge1': growing back"), reason
    assert pressure_key(f"the node admits 0.75 of the segments: {reason}") == "edge1:recovering+queue_full+in_flight"
    for wait in (0.9, 1.0):
        a.waited("face", wait)
    clock.now += 1.0
    admit, reason = a.signal()
    assert pressure_key(reason) == "edge1:queue_wait" and "median stage queue wait 0.95s" in reason
    clock.now += 10.0
    assert a.signal() == (1.0, "")
    assert {p.value for p in Pressure} == {"queue_full", "in_flight", "queue_wait", "recovering"}
    assert pressure_key("its controller asked for less") == "unstated"
    assert pressure_key(a.signal()[1]) == "unstated"


def test_a_reason_never_exceeds_what_a_reply_carries() -> None:
    clock = Clock()
    a = admission(clock)
    for n in range(40):  # many stages refusing in one interval: a long detail
        a.refused(f"service-with-a-long-name-{n}")
    clock.now += 1.0
    admit, reason = a.signal()
    assert admit < 1.0 and len(reason) == MAX_REASON and pressure_key(reason) == "edge1:queue_full"


def test_another_nodes_lower_share_counts_until_it_is_stale() -> None:
    clock = Clock()
    a = admission(clock, remote_ttl_s=3.0)
    a.heard("cloud", 0.4, "node 'cloud': stage 'face' took 3 and refused 3 task(s)")
    a.heard("edge1", 0.1, "its own share is never taken from a reply")
    assert a.signal() == (0.4, "node 'cloud': stage 'face' took 3 and refused 3 task(s)")
    clock.now += 3.5
    assert a.signal() == (1.0, "")


@pytest.mark.integration
def test_a_controller_whose_stage_refuses_tells_its_senders_and_the_next_node_up(tmp_path: Path) -> None:
    """Edge controller -> cloud controller -> a stage that refuses every task (queue full). The cloud's replies
    carry a share under 1 with the reason; the edge controller, uploading to it, passes the share on."""
    rec = Recorder()
    refused: list[str] = []
    ports = {n: free_port() for n in ("cloud", "edge", "proc", "dist")}

    full = FastAPI()

    @full.post("/process")
    async def process(request: Request) -> JSONResponse:
        refused.append(json.loads(await request.body())["task_uuid"])
        return JSONResponse({"error": {"code": "overloaded", "message": "queue full"}}, status_code=503)

    nodes = {
        "cloud": {
            "role": "cloud",
            "components": {"controller": {"port": ports["cloud"]}, "distributor": {"port": ports["dist"]}},
            "processors": {"svc-a": {"port": ports["proc"]}},
        },
        "edge": {"role": "edge", "components": {"controller": {"port": ports["edge"]}}},
    }
    topology = tmp_path / "topology.json"
    topology.write_text(json.dumps({"nodes": nodes, "links": []}))
    config = ControllerConfig.model_validate({"admission": {"interval_s": 0.1}})
    work = {n: tmp_path / n for n in ("cloud", "edge")}
    for d in work.values():
        d.mkdir()
    apps = {
        n: create_app(ControllerSettings(node=n, port=ports[n], topology=str(topology), work_dir=work[n]), config)
        for n in ("cloud", "edge")
    }
    spec = {"stages": [{"name": "a", "service": "svc-a"}]}
    with (
        serve(full, ports["proc"]),
        serve(fake_distributor(rec), ports["dist"]),
        serve(apps["cloud"], ports["cloud"]) as cloud,
        serve(apps["edge"], ports["edge"]) as edge,
    ):
        submitted: list[str] = []

        def submit(base: str, node: str, task_id: int) -> TaskAccepted:
            task = make_task(spec, task_id, nodes={"_start": node, "a": "cloud"})
            submitted.append(task.task_uuid)
            (work[node] / (task.payload.file_name or "")).write_bytes(os.urandom(500))
            reply = loopback.post(base + "/tasks", json=json.loads(task.to_json()), timeout=10)
            assert reply.status_code == 202, reply.text
            return TaskAccepted.model_validate_json(reply.content)

        counter = iter(range(10_000))
        cloud_said = wait_until(
            lambda: (lambda r: r if r.admit < 1.0 else None)(submit(cloud, "cloud", next(counter))),
            timeout=30,
            interval=0.05,
            what="the cloud controller's share to fall",
        )
        assert "stage 'svc-a' took 0 and refused" in cloud_said.pressure and "'cloud'" in cloud_said.pressure
        assert pressure_key(cloud_said.pressure) in ("cloud:queue_full", "cloud:recovering+queue_full")
        status = loopback.get(cloud + "/status", timeout=5).json()
        assert status["admit"] < 1.0 and status["congested_intervals"] >= 1
        # The edge's own stage never refused; its uploads to the cloud hear the cloud's share and pass it on.
        edge_said = wait_until(
            lambda: (lambda r: r if r.admit < 1.0 else None)(submit(edge, "edge", next(counter))),
            timeout=30,
            interval=0.05,
            what="the edge controller to pass the cloud's share on",
        )
        assert "'cloud'" in edge_said.pressure and pressure_key(edge_said.pressure).startswith("cloud:")
        assert loopback.get(edge + "/status", timeout=5).json()["congested_intervals"] == 0
        # Every task so far ends as a drop record: refused at the stage, nothing lost.
        wait_until(lambda: len(rec.drops) == len(submitted), timeout=30, what="a drop record per task")
        assert sorted(d["task_uuid"] for d in rec.drops) == sorted(submitted) == sorted(set(refused))
        assert {d["reason"] for d in rec.drops} == {"queue_full"}
