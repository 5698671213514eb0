"""End to end: one cloud and two edges as real processes (local runtime), two sources read from video
files written here, a DAG with a fork and a join (face -> {stats, pass} -> collect), run under the real
scheduler with its `cloud-only` and `edge-only` policies. Nothing is faked.

The generators' startup plan places every stage the other way round from the policy and uses other
knobs (240p, the policy says 360p), so a result whose stages sit where the policy wants them, made at
240p, was planned by the scheduler. One run stops the scheduler halfway (the generators keep its last
plan); one runs without a scheduler at all (the startup plan stays in force).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.local_runtime.runtime import LocalRuntime
from common.dag import critical_path
from common.task import END, START, Task
from tests import loopback
from tests.e2e.cluster import (
    LINKS,
    NODES,
    POLICY_META,
    STARTUP_META,
    deployment,
    processor_workloads,
    wait_until,
    write_video,
)

pytestmark = pytest.mark.e2e

SOURCES = {"s1": "edge1", "s2": "edge2"}
FRAMES = 20  # 5 tasks of 4 frames per source at 10 fps: about 2 s of video
# A plan request after every task (0.4 s of video). The tests assert no plan failed while the scheduler runs,
# so its answer must never be late however loaded the machine: 30 s. A stopped scheduler refuses at once.
SCHEDULED: dict[str, Any] = {
    "with_scheduler": True,
    "generator_extra": {"schedule_interval": 0.3, "plan_timeout_s": 30.0},
}


def generator_status(rt: LocalRuntime) -> dict[str, dict[str, Any]]:
    return {s: loopback.get(rt.url(f"gen-{s}") + "/status", timeout=5).json() for s in SOURCES}


def all_records(rt: LocalRuntime) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    cursor = 0
    while True:
        page = loopback.get(rt.url("distributor") + f"/results?after={cursor}&limit=1000", timeout=5).json()
        records.extend(page["records"])
        if not page["records"] or page["cursor"] == cursor:
            return records
        cursor = page["cursor"]


def wait_accounted(rt: LocalRuntime, timeout: float = 45.0) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Wait until the generators are done and every task they created has a record at the distributor."""
    status = wait_until(
        lambda: (lambda st: st if all(x["finished"] for x in st.values()) else None)(generator_status(rt)),
        timeout=timeout,
        what="generators to finish",
    )

    def covered() -> list[dict[str, Any]] | None:
        records = all_records(rt)
        seen = {(r["source_id"], r["task_id"]) for r in records}
        wanted = {(s, i) for s, st in status.items() for i in range(st["tasks_created"])}
        return records if wanted <= seen else None

    return status, wait_until(covered, timeout=timeout, what="every task to reach the distributor")


def start(tmp_path: Path, mode: str, **kwargs: Any) -> LocalRuntime:
    frames = kwargs.pop("frames", FRAMES)
    videos = {s: (node, write_video(tmp_path / f"{s}.mp4", frames=frames)) for s, node in SOURCES.items()}
    extra = kwargs.pop("extra_workloads", [])
    rt = LocalRuntime(tmp_path / "run")
    rt.start(NODES, LINKS, deployment(mode, videos, **kwargs) + extra, timeout=60)
    return rt


def check_result(record: dict[str, Any], expected_node: str | None, meta: dict[str, Any]) -> None:
    task = Task.from_dict(record["task"])
    assert task.cursor == END
    assert task.meta.resolution == meta["resolution"], (task.task_id, task.meta)
    if meta is POLICY_META:
        assert task.deployment_version >= 1, "a task planned by the scheduler carries its deployment version"
    for name in ("face", "stats", "pass", "collect"):
        stage = task.dag[name]
        assert stage.done, f"stage {name} of task {task.task_id} did not run"
        assert stage.timings.execute is not None and stage.timings.service is not None
        if expected_node is not None:
            assert stage.node == expected_node, (name, stage.node)
    # The end-to-end figure is the critical path of the per-stage timings, and nothing else.
    path_cost, path = critical_path(task.dag)
    assert path[0] == START and path[-1] == END and "face" in path and "collect" in path
    assert math.isclose(record["latency"], path_cost, rel_tol=1e-6, abs_tol=1e-6)
    by_hand = 0.0
    for prev, name in itertools.pairwise(path):
        t = task.dag[name].timings
        by_hand += t.transmit_from.get(prev, t.transmit or 0.0) + (t.execute or 0.0)
    assert math.isclose(by_hand, record["latency"], rel_tol=1e-6, abs_tol=1e-6)
    # One clock for all processes here, so the wall-clock figure bounds the sum of the parts.
    assert record["wall_latency"] + 1e-3 >= record["latency"]


def check_scheduler(rt: LocalRuntime, policy: str, status: dict[str, dict[str, Any]], results: int) -> None:
    """The scheduler ran ``policy`` for every source, served several plans each, timed its decisions, got feedback."""
    for source, st in status.items():
        assert st["plans_received"] >= 3 and st["plan_failures"] == 0, (source, st)
        assert st["plan"]["meta"]["resolution"] == POLICY_META["resolution"], st["plan"]
    stats = loopback.get(rt.url("scheduler") + "/stats", timeout=5).json()
    assert stats["agents"] == {s: policy for s in SOURCES}, stats
    assert stats["plans_served"] >= sum(st["plans_received"] for st in status.values()), stats
    decision = stats["decision_ms"]
    assert decision["count"] == stats["plans_served"] and decision["window"] == stats["plans_served"]
    assert 0 <= decision["p50"] <= decision["p99"] <= decision["max"], decision
    feedback = wait_until(
        lambda: (lambda f: f if f["tasks"] >= results else None)(
            loopback.get(rt.url("scheduler") + "/stats", timeout=5).json()["feedback"]
        ),
        timeout=60,
        what="feedback of every result at the scheduler",
    )
    # every source asked for a plan before its first task: no agent had to be rebuilt from feedback
    assert feedback == {"tasks": results, "drops": 0, "agents_rebuilt": 0}, feedback


@pytest.fixture(scope="module")
def cloud_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    rt = start(
        tmp_path_factory.mktemp("cloud-only"),
        "cloud-only",
        controller={"max_payload_bytes": 2 * 1024 * 1024},
        **SCHEDULED,
    )
    try:
        yield rt
    finally:
        outcome = rt.stop(timeout=10)
        assert not any(r.alive() for r in rt.records())
        assert "killed" not in outcome.values(), outcome


def test_cloud_only_every_task_ends_as_a_result(cloud_only: LocalRuntime) -> None:
    status, records = wait_accounted(cloud_only)
    assert all(st["tasks_created"] == FRAMES // 4 for st in status.values()), status
    results = [r for r in records if r["kind"] == "result"]
    assert {(r["source_id"], r["task_id"]) for r in results} == {(s, i) for s in SOURCES for i in range(FRAMES // 4)}
    for record in results:
        check_result(record, "cloud", POLICY_META)
    check_scheduler(cloud_only, "cloud-only", status, len(results))
    faces = [
        obj
        for r in results
        for frame in (r["task"]["dag"]["face"]["result"] or {}).get("frames", [])
        for obj in frame["objects"]
    ]
    assert faces, "the face detector found no face in the test video"


def test_hostile_requests_get_4xx_and_change_nothing(cloud_only: LocalRuntime, tmp_path: Path) -> None:
    wait_accounted(cloud_only)
    controller = cloud_only.url("controller-edge1")
    before = loopback.get(controller + "/status").json()
    stats_before = loopback.get(cloud_only.url("distributor") + "/stats").json()
    task = Task.model_validate(all_records(cloud_only)[0]["task"]).model_copy(
        update={"cursor": START, "came_from": None, "task_uuid": "f" * 32}
    )
    good = task.model_dump(mode="json")
    work = cloud_only.work_dir("edge1")
    (work / "truncated.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 10)

    def with_payload(name: str) -> dict[str, Any]:
        return {**good, "payload": {**good["payload"], "file_name": name}}

    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("bad json", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "malformed"),
        ("unknown stage", {"json": {**good, "cursor": "nope"}}, 400, "nope"),
        ("path traversal", {"json": with_payload("../../etc/passwd")}, 400, "file name"),
        ("missing segment", {"json": with_payload("absent.mp4")}, 404, "absent.mp4"),
        (
            "empty mp4",
            {
                "data": {"task": Task.model_validate(with_payload("e.mp4")).to_json()},
                "files": {"payload": ("e.mp4", b"", "video/mp4")},
            },
            400,
            "empty",
        ),
        (
            "oversized",
            {
                "data": {"task": Task.model_validate(with_payload("big.mp4")).to_json()},
                "files": {"payload": ("big.mp4", b"\0" * (3 * 1024 * 1024), "video/mp4")},
            },
            413,
            "limit",
        ),
        ("not a task", {"json": {"hello": "world"}}, 400, "source_id"),
    ]
    for label, kwargs, code, needle in cases:
        response = loopback.post(controller + "/tasks", timeout=10, **kwargs)
        assert response.status_code == code, (label, response.status_code, response.text)
        assert needle in response.json()["error"]["message"], (label, response.text)
    assert loopback.put(controller + "/files/..%2F..%2Fescape", content=b"x").status_code in (400, 404)
    assert loopback.put(controller + "/files/x.mp4", content=b"\0" * (3 * 1024 * 1024)).status_code == 413
    assert not (work.parent / "escape").exists() and not (work / "big.mp4").exists() and not (work / "e.mp4").exists()

    # A truncated MP4 reaching a processor is refused with a 422 that says so.
    processor = cloud_only.url("proc-face-detection-cloud")
    truncated = Task.model_validate(with_payload("truncated.mp4")).model_copy(update={"cursor": "face"})
    (cloud_only.work_dir("cloud") / "truncated.mp4").write_bytes((work / "truncated.mp4").read_bytes())
    response = loopback.post(processor + "/process", content=truncated.to_json(), timeout=10)
    assert response.status_code == 422, response.text
    assert loopback.post(processor + "/process", content=b"[1,2", timeout=10).status_code == 400

    for name in ("controller-edge1", "controller-cloud", "proc-face-detection-cloud", "distributor", "gen-s1"):
        assert loopback.get(cloud_only.url(name) + "/health").status_code == 200, name
    after = loopback.get(controller + "/status").json()
    assert after["counts"] == before["counts"] and after["drops"] == before["drops"]
    assert loopback.get(cloud_only.url("distributor") + "/stats").json()["sources"] == stats_before["sources"]


def test_edge_only_every_task_ends_as_a_result(tmp_path: Path) -> None:
    rt = start(tmp_path, "edge-only", **SCHEDULED)
    try:
        status, records = wait_accounted(rt)
        results = [r for r in records if r["kind"] == "result"]
        assert {(r["source_id"], r["task_id"]) for r in results} == {
            (s, i) for s in SOURCES for i in range(FRAMES // 4)
        }
        for record in results:
            check_result(record, SOURCES[record["source_id"]], POLICY_META)
        check_scheduler(rt, "edge-only", status, len(results))
    finally:
        rt.stop(timeout=10)
    assert not any(r.alive() for r in rt.records())


def test_scheduler_stopped_mid_run_generators_keep_its_last_plan(tmp_path: Path) -> None:
    """Edge-only policy; the scheduler process is stopped once both sources have their plan."""
    rt = start(tmp_path, "edge-only", frames=40, **SCHEDULED)
    try:
        wait_until(
            lambda: all(
                st["plans_received"] >= 1 and st["tasks_submitted"] >= 2 for st in generator_status(rt).values()
            ),
            timeout=30,
            what="both sources planned and under way",
        )
        rt.stop(timeout=5, names=["scheduler"])
        status, records = wait_accounted(rt)
        results = [r for r in records if r["kind"] == "result"]
        drops = [(r["source_id"], r["task_id"], r["reason"], r["drop"]["message"]) for r in records if r["drop"]]
        assert {(r["source_id"], r["task_id"]) for r in results} == {
            (s, i) for s, st in status.items() for i in range(st["tasks_created"])
        }, drops
        assert all(st["tasks_created"] == 10 for st in status.values()), status
        for record in results:
            check_result(record, SOURCES[record["source_id"]], POLICY_META)
        for source, st in status.items():
            assert st["plan_failures"] >= 1 and st["plan_error"], (source, st)
            assert st["plan"]["meta"]["resolution"] == POLICY_META["resolution"], (source, st["plan"])
    finally:
        rt.stop(timeout=10)
    assert not any(r.alive() for r in rt.records())


def test_stopping_a_processor_mid_run_reroutes_or_drops_never_loses(tmp_path: Path) -> None:
    """No scheduler: the startup plan (edge-only placement) stays in force. The services also run on the
    cloud; edge1's face detector is stopped mid-run."""
    rt = start(tmp_path, "edge-only", frames=60, extra_workloads=processor_workloads("cloud"))
    try:
        wait_until(lambda: generator_status(rt)["s1"]["tasks_submitted"] >= 3, timeout=30, what="a few tasks of s1")
        rt.stop(timeout=5, names=["proc-face-detection-edge1"])
        status, records = wait_accounted(rt, timeout=60)
        s1 = [r for r in records if r["source_id"] == "s1"]
        assert {r["task_id"] for r in s1} >= set(range(status["s1"]["tasks_created"]))
        for record in s1:
            if record["kind"] == "drop":
                assert record["reason"] and record.get("message"), record
        for source, st in status.items():
            assert st["plans_received"] == 0 and st["deployment_version"] == 0, (source, st)
            assert st["plan"]["meta"]["resolution"] == STARTUP_META["resolution"], (source, st["plan"])
        for record in records:
            if record["kind"] == "result":
                assert record["task"]["meta"]["resolution"] == STARTUP_META["resolution"], record["task"]["meta"]
        rerouted = [r for r in s1 if r["kind"] == "result" and r["task"]["dag"]["face"]["node"] == "cloud"]
        dropped = [r for r in s1 if r["kind"] == "drop"]
        assert rerouted or dropped, "the stopped processor changed nothing"
        controller = loopback.get(rt.url("controller-edge1") + "/status").json()
        assert controller["counts"].get("rerouted", 0) + sum(controller["drops"].values()) >= 1
    finally:
        rt.stop(timeout=10)
