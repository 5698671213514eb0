"""Distributor integration tests: a real uvicorn server on loopback and real SQLite in tmp_path."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from common.dag import DagSpec, StageSpec, build_dag
from common.records import DropReason, DropRecord
from common.results import SegmentResult
from common.task import END, START, Payload, Task
from common.wire import multipart_parts
from services.distributor.app import create_app
from services.distributor.config import DistributorConfig
from services.distributor.settings import DistributorSettings
from services.scheduler.app import create_app as create_scheduler
from services.scheduler.config import SchedulerConfig
from services.scheduler.settings import SchedulerSettings
from tests import loopback
from tests.e2e.cluster import wait_until
from tests.servers import free_port, serve
from tests.services.processor.segments import CATALOG, plain_segment

pytestmark = pytest.mark.integration


def start(tmp_path: Path, **config: Any) -> Any:
    config.setdefault("feedback", False)
    settings = DistributorSettings(work_dir=tmp_path / "work")
    return serve(create_app(settings, DistributorConfig.model_validate(config)))


def finished_task(task_id: int, source_id: str = "cam1", file_name: str | None = None) -> Task:
    """A one-stage task that ran on edge1 and arrives at _end, with timings on one clock per stage."""
    dag = build_dag(DagSpec(stages=[StageSpec(name="detect", service="passthrough")]), CATALOG)
    dag[START].done = True
    dag["detect"].done = True
    dag["detect"].result = SegmentResult(application="passthrough")
    dag["detect"].timings.execute = 0.05
    dag["detect"].timings.transmit = 0.02
    dag[END].timings.transmit = 0.01
    return Task(
        source_id=source_id,
        task_id=task_id,
        source_node="edge1",
        dag=dag,
        cursor=END,
        came_from="detect",
        created_at=time.time() - 0.5,
        payload=Payload(file_name=file_name),
    )


def branch_copies(task_id: int = 0) -> list[Task]:
    """Two forked copies of one task (stages a and b run in parallel) arriving at _end."""
    dag = build_dag(
        DagSpec(stages=[StageSpec(name="a", service="passthrough"), StageSpec(name="b", service="passthrough")]),
        CATALOG,
    )
    root = Task(source_id="cam1", task_id=task_id, source_node="edge1", dag=dag)
    copies = []
    for branch, cost in (("a", 0.1), ("b", 0.3)):
        copy = root.with_cursor(END)
        copy.came_from = branch
        copy.task_uuid = f"{root.task_uuid[:24]}{branch}" + "0" * 7
        copy.parent_uuid = root.task_uuid
        copy.dag[branch].done = True
        copy.dag[branch].result = SegmentResult(application="passthrough", extra={"branch": branch})
        copy.dag[branch].timings.execute = cost
        copies.append(copy)
    return copies


def post_result(url: str, task: Task, payload: bytes | None = None) -> httpx.Response:
    return loopback.post(f"{url}/results", **multipart_parts(task, payload), timeout=10)


def test_results_are_idempotent_and_carry_latency(tmp_path: Path) -> None:
    task = finished_task(0)
    with start(tmp_path) as url:
        first = post_result(url, task)
        again = loopback.post(f"{url}/results", content=task.to_json(), headers={"content-type": "application/json"})
        records = loopback.get(f"{url}/results").json()["records"]
        stats = loopback.get(f"{url}/stats").json()
    assert first.json()["status"] == "stored"
    assert again.json()["status"] == "duplicate"
    assert len(records) == 1
    record = records[0]
    assert record["kind"] == "result" and record["task_uuid"] == task.task_uuid
    assert record["latency"] == pytest.approx(0.08)
    assert record["wall_latency"] >= 0.5
    assert record["task"]["finished_at"] is not None and record["task"]["dag"]["_end"]["done"] is True
    assert stats["sources"]["cam1"]["results"] == 1


def test_cursor_paging_and_source_filter(tmp_path: Path) -> None:
    with start(tmp_path) as url:
        for i in range(7):
            post_result(url, finished_task(i, source_id="cam1" if i % 2 == 0 else "cam2"))
        seen: list[int] = []
        cursor = 0
        for _ in range(10):
            body = loopback.get(f"{url}/results", params={"after": cursor, "limit": 3}).json()
            if not body["records"]:
                break
            assert len(body["records"]) <= 3
            seen += [r["task_id"] for r in body["records"]]
            cursor = body["cursor"]
        cam2 = loopback.get(f"{url}/results", params={"source_id": "cam2"}).json()["records"]
        bad = loopback.get(f"{url}/results", params={"after": -1})
        # Beyond SQLite's 64-bit integers: refused with what was wrong, never a 500 from the database.
        huge = loopback.get(f"{url}/results", params={"after": 2**63})
        last = loopback.get(f"{url}/results", params={"after": 2**63 - 1})
    assert seen == list(range(7))
    assert huge.status_code == 422 and "after" in huge.json()["error"]["message"]
    assert last.status_code == 200 and last.json()["records"] == []
    assert [r["task_id"] for r in cam2] == [1, 3, 5]
    assert bad.status_code == 422 and "after" in bad.json()["error"]["message"]


def test_export_is_gzip_json_lines_with_results_and_drops(tmp_path: Path) -> None:
    with start(tmp_path, export_page=2) as url:
        for i in range(5):
            post_result(url, finished_task(i))
        drop = DropRecord.of(finished_task(9).with_cursor("detect"), DropReason.QUEUE_FULL, "queue full", node="edge1")
        assert loopback.post(f"{url}/drops", content=drop.model_dump_json()).json()["status"] == "stored"
        answer = loopback.get(f"{url}/export", params={"source_id": "cam1"})
    assert answer.headers["content-type"] == "application/gzip"
    lines = gzip.decompress(answer.content).decode().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["task_id"] for r in rows] == [0, 1, 2, 3, 4, 9]
    assert rows[-1]["kind"] == "drop" and rows[-1]["reason"] == "queue_full"
    assert Task.model_validate(rows[0]["task"]).task_id == 0


def test_retention_keeps_last_records_and_segments(tmp_path: Path) -> None:
    segment = plain_segment(tmp_path, "seg.mp4").read_bytes()
    with start(tmp_path, max_records=10, max_segments=2) as url:
        for i in range(14):
            post_result(url, finished_task(i, file_name=f"seg{i}.mp4"), segment)
        records = loopback.get(f"{url}/results", params={"limit": 100}).json()["records"]
        kept = loopback.get(f"{url}/files/seg13.mp4")
        gone = loopback.get(f"{url}/files/seg11.mp4")
        traversal = loopback.get(f"{url}/files/..%2Fresults.sqlite3")
    assert [r["task_id"] for r in records] == list(range(4, 14))
    assert kept.status_code == 200 and kept.content == segment
    assert gone.status_code == 404
    assert traversal.status_code in (400, 404)
    assert sorted(p.name for p in (tmp_path / "work" / "segments").iterdir()) == ["seg12.mp4", "seg13.mp4"]


def test_join_at_end_merges_branches(tmp_path: Path) -> None:
    a, b = branch_copies()
    with start(tmp_path) as url:
        waiting = post_result(url, a).json()
        merged = post_result(url, b).json()
        retried = post_result(url, a).json()
        records = loopback.get(f"{url}/results").json()["records"]
        pending = loopback.get(f"{url}/stats").json()["pending_joins"]
    assert waiting["status"] == "waiting"
    assert merged["status"] == "stored"
    assert retried["status"] == "duplicate" and pending == 0  # a late retry does not start a new join
    assert len(records) == 1
    task = records[0]["task"]
    assert task["dag"]["a"]["done"] and task["dag"]["b"]["done"]
    assert records[0]["latency"] == pytest.approx(0.3)  # the slower branch is the critical path


def test_join_timeout_becomes_a_drop_record(tmp_path: Path) -> None:
    a, _ = branch_copies()
    with start(tmp_path, join_timeout=0.3) as url:
        assert post_result(url, a).json()["status"] == "waiting"
        # The timeout is short; only how soon the sweep runs depends on the machine: waited for, up to 60 s.
        records: list[dict[str, Any]] = wait_until(
            lambda: loopback.get(f"{url}/results").json()["records"], timeout=60, interval=0.1, what="the drop"
        )
    assert len(records) == 1
    assert records[0]["kind"] == "drop" and records[0]["reason"] == "join_timeout"
    assert "missing ['b']" in records[0]["drop"]["message"]


def test_a_join_evicted_from_a_full_store_is_recorded_as_overloaded(tmp_path: Path) -> None:
    first, _ = branch_copies(0)
    second, _ = branch_copies(1)
    with start(tmp_path, join_capacity=1) as url:
        assert post_result(url, first).json()["status"] == "waiting"
        assert post_result(url, second).json()["status"] == "waiting"  # evicts the first join
        records = loopback.get(f"{url}/results").json()["records"]
    assert [(r["kind"], r["task_id"], r["reason"]) for r in records] == [("drop", 0, "overloaded")]


def test_joins_waiting_at_shutdown_are_recorded_as_dropped(tmp_path: Path) -> None:
    a, _ = branch_copies(7)
    with start(tmp_path) as url:
        assert post_result(url, a).json()["status"] == "waiting"
    with start(tmp_path) as url:  # the same database, after a restart
        records = loopback.get(f"{url}/results").json()["records"]
    assert [(r["kind"], r["task_id"], r["reason"]) for r in records] == [("drop", 7, "shutdown")]


def test_dead_scheduler_loses_no_record(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    config = {"feedback": True, "scheduler_url": dead, "feedback_retries": 1, "feedback_timeout": 0.5}
    with start(tmp_path, **config) as url:
        answers = [post_result(url, finished_task(i)) for i in range(5)]
        records = loopback.get(f"{url}/results").json()["records"]
        metrics: str = wait_until(
            lambda: (lambda text: text if 'dayu_distributor_feedback_total{outcome="failed"}' in text else None)(
                loopback.get(f"{url}/metrics").text
            ),
            timeout=60,
            interval=0.1,
            what="a failed feedback send",
        )
    assert all(a.json()["status"] == "stored" for a in answers)
    assert len(records) == 5
    # The feedback failed and waits to be sent again (tests/services/distributor/test_feedback_resend.py).
    assert 'dayu_distributor_feedback_total{outcome="failed"}' in metrics
    assert 'outcome="rejected"' not in metrics and 'outcome="sent"' not in metrics


def test_bad_input_gets_4xx_and_changes_nothing(tmp_path: Path) -> None:
    with start(tmp_path, max_payload_bytes=2048) as url:
        malformed = loopback.post(f"{url}/results", content=b"{nope", headers={"content-type": "application/json"})
        not_end = post_result(url, finished_task(0).with_cursor("detect"))
        oversized = post_result(url, finished_task(1, file_name="big.mp4"), b"x" * 10_000)
        bad_drop = loopback.post(f"{url}/drops", content=b'{"source_id": "cam1"}')
        no_form = loopback.post(f"{url}/results", content=b"abc", headers={"content-type": "text/plain"})
        records = loopback.get(f"{url}/results").json()["records"]
        health = loopback.get(f"{url}/health")
    assert malformed.status_code == 400 and "malformed task" in malformed.json()["error"]["message"]
    assert not_end.status_code == 400 and "'detect'" in not_end.json()["error"]["message"]
    assert oversized.status_code == 413
    assert bad_drop.status_code == 400 and "malformed drop record" in bad_drop.json()["error"]["message"]
    assert no_form.status_code == 400
    assert records == []
    assert health.status_code == 200


def test_feedback_reaches_a_real_scheduler(tmp_path: Path) -> None:
    scheduler_port = free_port()
    scheduler = f"http://127.0.0.1:{scheduler_port}"
    scheduler_app = create_scheduler(SchedulerSettings(), SchedulerConfig())
    with serve(scheduler_app, port=scheduler_port), start(tmp_path, feedback=True, scheduler_url=scheduler) as url:
        post_result(url, finished_task(0))
        drop = DropRecord.of(finished_task(1).with_cursor("detect"), DropReason.TIMEOUT, "slow")
        loopback.post(f"{url}/drops", content=drop.model_dump_json())
        stats: dict[str, Any] = wait_until(
            lambda: (lambda got: got if got["feedback"]["tasks"] + got["feedback"]["drops"] >= 2 else None)(
                loopback.get(f"{scheduler}/stats").json()
            ),
            timeout=60,
            interval=0.1,
            what="both feedbacks at the scheduler",
        )
    # No plan was asked: the scheduler builds the source's agent from its first feedback (once).
    assert stats["feedback"] == {"tasks": 1, "drops": 1, "agents_rebuilt": 1}
    assert stats["agents"] == {finished_task(0).source_id: "fixed"}
    assert stats["history"][finished_task(0).source_id]["tasks"] == 1


def test_segment_sent_by_reference_is_kept_for_display(tmp_path: Path) -> None:
    """A result posted as JSON names a segment in the node's work dir: it is kept after the original goes."""
    work = tmp_path / "work"
    work.mkdir()
    segment = plain_segment(tmp_path, "seg.mp4").read_bytes()
    (work / "ref0.mp4").write_bytes(segment)
    with start(tmp_path, max_segments=5) as url:
        task = finished_task(0, file_name="ref0.mp4")
        stored = loopback.post(
            f"{url}/results", content=task.to_json(), headers={"content-type": "application/json"}, timeout=10
        )
        (work / "ref0.mp4").unlink()  # the controller's TTL cleanup removes the original
        served = loopback.get(f"{url}/files/ref0.mp4")
        missing = loopback.post(
            f"{url}/results",
            content=finished_task(1, file_name="gone.mp4").to_json(),
            headers={"content-type": "application/json"},
            timeout=10,
        )
        absent = loopback.get(f"{url}/files/gone.mp4")
    assert stored.status_code < 300, stored.text
    assert served.status_code == 200 and served.content == segment
    assert missing.status_code < 300, missing.text
    assert absent.status_code == 404


def test_tail_gives_the_latest_records_and_each_run_id_its_own_database(tmp_path: Path) -> None:
    with start(tmp_path, run_id="run-1") as url:
        for i in range(5):
            post_result(url, finished_task(i))
        post_result(url, finished_task(0, source_id="other"))
        latest = loopback.get(f"{url}/results", params={"tail": 2, "source_id": "cam1"}).json()
        bad = loopback.get(f"{url}/results", params={"tail": 0})
    assert [r["task_id"] for r in latest["records"]] == [3, 4]  # the latest two, oldest first
    assert latest["cursor"] == latest["records"][-1]["seq"]
    assert bad.status_code == 422
    with start(tmp_path, run_id="run-2") as url:
        fresh = loopback.get(f"{url}/results").json()["records"]
    with start(tmp_path, run_id="run-1") as url:
        kept = loopback.get(f"{url}/results").json()["records"]
    assert fresh == []  # a new run starts with no records of earlier runs
    assert len(kept) == 6  # and the earlier run's records are still there under its own name
    assert (tmp_path / "work" / "results-run-1.sqlite3").is_file()
    with pytest.raises(ValueError):
        DistributorConfig.model_validate({"run_id": "../escape"})


def test_stats_of_one_source(tmp_path: Path) -> None:
    with start(tmp_path) as url:
        for i in range(3):
            post_result(url, finished_task(i))
        post_result(url, finished_task(0, source_id="other"))
        one = loopback.get(f"{url}/stats", params={"source_id": "cam1"}).json()
        every = loopback.get(f"{url}/stats").json()
        unknown = loopback.get(f"{url}/stats", params={"source_id": "nobody"}).json()
        bad = loopback.get(f"{url}/stats", params={"source_id": "a b"})
    assert list(one["sources"]) == ["cam1"] and one["sources"]["cam1"]["results"] == 3
    assert one["sources"]["cam1"]["mean_latency"] == pytest.approx(0.08)
    assert set(every["sources"]) == {"cam1", "other"}
    assert unknown["sources"] == {}
    assert bad.status_code == 422 and "source_id" in bad.text
