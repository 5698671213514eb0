"""``dayuctl analyze`` on a real results export: a real distributor stores real tasks and drop records and
exports them (gzip JSON Lines); the command summarises each source with the policy benchmark's own
function (latency percentiles, SLO violations, accuracy and its reference, bytes, drops by reason,
configurations and placements over time, figures per second of video)."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest

from backend.benchpolicies.runner import RunRecords
from backend.benchpolicies.summary import summarise
from backend.cli import main
from common.records import DropReason, DropRecord
from common.results import SegmentResult
from common.task import Meta
from tests import loopback
from tests.services.distributor.test_app import finished_task, post_result, start

pytestmark = pytest.mark.integration


def _task(task_id: int, t0: float, *, resolution: str, fps: float, node: str, execute: float, source: str = "cam1"):
    task = finished_task(task_id, source_id=source)
    task.created_at = t0 + task_id  # one task a second, in order
    task.meta = Meta(resolution=resolution, fps=fps, buffer_size=4)
    task.dag["detect"].node = node
    task.dag["detect"].timings.execute = execute
    # Two faces in the frame; the distributor scores what the stage found against them (F1 at IoU 0.5):
    # both at 720p (F1 1), one at 360p (F1 2/3).
    faces = [[0, 0, 10, 10], [20, 20, 30, 30]]
    found = faces if resolution == "720p" else faces[:1]
    task.payload.ground_truth = [{"objects": [{"class": "face", "box": box} for box in faces]}]
    task.payload.frame_indices = [0]
    task.dag["detect"].result = SegmentResult.model_validate(
        {
            "application": "face-detection",
            "frames": [{"frame_index": 0, "objects": [{"label": "face", "box": box} for box in found]}],
        }
    )
    task.payload.size_bytes = 100_000
    return task


def _export(tmp_path: Path) -> Path:
    t0 = time.time() - 60
    with start(tmp_path) as url:
        for i in range(4):  # 720p at 10 fps on the edge, fast
            assert post_result(url, _task(i, t0, resolution="720p", fps=10, node="edge1", execute=0.05)).is_success
        for i in (4, 5):  # 360p at 5 fps offloaded to the cloud, one of them late
            late = 2.0 if i == 5 else 0.05
            assert post_result(url, _task(i, t0, resolution="360p", fps=5, node="cloud", execute=late)).is_success
        # Task 6 never reports back (no record at all): unfinished. Task 7 is a result again; 8 and 9 drops.
        assert post_result(url, _task(7, t0, resolution="360p", fps=5, node="cloud", execute=0.05)).is_success
        for task_id, reason in ((8, DropReason.QUEUE_FULL), (9, DropReason.QUEUE_FULL)):
            dropped = _task(task_id, t0, resolution="360p", fps=5, node="cloud", execute=0.05).with_cursor("detect")
            drop = DropRecord.of(dropped, reason, "queue full", node="cloud")
            assert loopback.post(f"{url}/drops", content=drop.model_dump_json()).json()["status"] == "stored"
        assert post_result(url, _task(0, t0, resolution="720p", fps=10, node="cloud", execute=0.05, source="cam2"))
        answer = loopback.get(f"{url}/export")
    assert answer.status_code == 200
    path = tmp_path / "export.jsonl.gz"
    path.write_bytes(answer.content)
    return path


def test_analyze_summarises_each_source_of_an_export_like_the_benchmark(tmp_path: Path, capsys) -> None:
    path = _export(tmp_path)
    assert main(["analyze", str(path), "--slo-ms", "1000", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"] == 10 and sorted(summary["sources"]) == ["cam1", "cam2"]
    cam1 = summary["sources"]["cam1"]
    assert cam1["tasks"] == 7 and cam1["drops"] == 2 and cam1["unfinished"] == 1
    assert cam1["drops_by_reason"] == {"queue_full": 2, "unfinished": 1}
    # 10 task ids: one late, two dropped, one never finished.
    assert cam1["slo_violation_rate"] == pytest.approx(4 / 10)
    assert cam1["latency_ms_p50"] == pytest.approx(80, abs=1) and cam1["latency_ms_p99"] > 1000
    # Per second of video: a 720p task covers 4 frames at 10 fps (0.4 s), a 360p one 4 at 5 fps (0.8 s); the
    # unfinished task weighs a typical (median) task of the source, 0.4 s.
    video = 4 * 0.4 + 3 * 0.8 + 2 * 0.8 + 0.4
    assert cam1["video_s"] == pytest.approx(video)
    assert cam1["slo_violation_rate_per_video_s"] == pytest.approx((0.8 + 1.6 + 0.4) / video)
    assert cam1["accuracy_f1"] == pytest.approx((4 * 1.0 + 3 * 0.6667) / 7)
    # Per second of video the 360p tasks weigh twice as much as the 720p ones (0.8 s against 0.4 s each).
    assert cam1["accuracy_f1_per_video_s"] == pytest.approx((1.6 * 1.0 + 2.4 * 0.6667) / 4.0)
    assert cam1["link_mbytes_per_video_s"] == pytest.approx(0.5 / video)
    assert cam1["accuracy_reference"] == "ground_truth"
    # Only the offloaded tasks crossed the link (the source is on edge1); a dropped task's bytes count too.
    assert cam1["link_mbytes"] == pytest.approx(5 * 0.1)
    assert [(s["resolution"], s["fps"], s["placement"], s["tasks"]) for s in cam1["timeline"]] == [
        ("720p", 10, "detect@edge1", 4),
        ("360p", 5, "detect@cloud", 3),
    ]
    assert cam1["timeline"][1]["from_s"] == pytest.approx(4) and cam1["timeline"][1]["to_s"] == pytest.approx(7)
    assert summary["sources"]["cam2"]["tasks"] == 1


def test_the_same_function_as_the_benchmark_and_the_text_table(tmp_path: Path, capsys) -> None:
    path = _export(tmp_path)
    records = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    cam1 = [r for r in records if r["source_id"] == "cam1"]
    started = min(r["task"]["created_at"] for r in cam1 if r["kind"] == "result")
    run = RunRecords(policy="p", repeat=0, started=started, duration_s=10, first_task=0, end_task=10, records=cam1)
    bench = summarise(run, 1000.0)
    assert main(["--json", "analyze", str(path), "--accuracy-reference", "golden"]) == 0
    analyzed = json.loads(capsys.readouterr().out)["sources"]["cam1"]
    for key in ("latency_ms_p95", "slo_violation_rate", "accuracy_f1", "link_mbytes", "drops_by_reason", "timeline"):
        assert analyzed[key] == bench[key], key
    assert analyzed["accuracy_reference"] == "golden"
    # A plain (not compressed) JSON Lines file is read alike; the text output is the benchmark's table.
    plain = tmp_path / "export.jsonl"
    plain.write_bytes(gzip.decompress(path.read_bytes()))
    assert main(["analyze", str(plain)]) == 0
    text = capsys.readouterr().out
    assert "| source | p50 ms | p95 ms | SLO viol. | viol. per video s |" in text
    assert "drops by reason: queue_full 2, unfinished 1" in text
    assert "720p 10 fps" in text and "detect@cloud" in text and "accuracy against ground truth" in text


def test_a_file_that_is_not_an_export_is_refused_with_the_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "result", "task": {"task_id": 1}}\nnot json\n')
    assert main(["analyze", str(bad)]) == 1
    assert "bad.jsonl:2: not JSON" in capsys.readouterr().err
    other = tmp_path / "other.jsonl"
    other.write_text('{"node": "edge1", "at": 1}\n')
    assert main(["analyze", str(other)]) == 1
    assert "other.jsonl:1: not a result or drop record" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "missing.gz")]) == 1
    assert "cannot read" in capsys.readouterr().err
    assert main(["analyze", str(other), "--slo-ms", "0"]) == 2
