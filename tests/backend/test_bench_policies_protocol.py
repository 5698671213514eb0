"""The benchmark's protocol: seeds move the clip's start and the trace's phase deterministically, a rotated
clip is the same frames losslessly, accuracy counts every source frame (a skipped one carries the last
result), the golden reference is cached per clip and service, per task the node of each stage is kept,
and the default suite holds out what the agents were not tuned on.

Real video files are written by the tests; the golden reference runs the processor's real models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from backend.benchpolicies import golden, seeding, suite
from backend.benchpolicies.config import BenchSettings, ClipChoice
from backend.benchpolicies.frames import score_frames, unroll
from backend.benchpolicies.main import per_task
from backend.benchpolicies.runner import RunRecords
from common.errors import ConfigError
from common.trace import load_trace

pytestmark = pytest.mark.unit
T0 = 1_000_000.0


def test_the_seed_picks_the_clip_offset_and_the_trace_phase_deterministically() -> None:
    offsets = [seeding.start_offset(seed, 300) for seed in range(20)]
    assert offsets == [seeding.start_offset(seed, 300) for seed in range(20)]  # same seed, same start
    assert all(0 <= o < 300 for o in offsets) and len(set(offsets)) > 10  # seeds move it
    phases = [seeding.trace_phase(seed, 80.0) for seed in range(20)]
    assert phases == [seeding.trace_phase(seed, 80.0) for seed in range(20)]
    assert all(0 <= p < 80 and p == int(p) for p in phases) and len(set(phases)) > 10
    assert seeding.trace_phase(3, 0.0) == 0.0  # a constant trace has no phase


def test_a_phased_trace_is_the_same_link_started_later(tmp_path: Path) -> None:
    original = load_trace("step-drop", mode="hold")  # 20 Mbit/s, 2 from 20 s, 20 from 50 s; 80 s a pass
    path = seeding.phased_trace("step-drop", 30.0, tmp_path)
    shifted = load_trace(path, mode="hold")
    assert shifted.period_s == original.period_s
    for t in np.arange(0.0, 80.0, 0.5):
        assert shifted.rate_at(t) == original.rate_at((t + 30.0) % 80.0), t
    assert seeding.phased_trace("step-drop", 0.0, tmp_path) == "step-drop"


def _write_clip(path: Path, frames: int, size: tuple[int, int] = (64, 48)) -> None:
    """Frames told apart by their grey level and a bar that moves."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, size)
    for i in range(frames):
        image = np.full((size[1], size[0], 3), 20 + 20 * i, np.uint8)
        image[:, 4 * i : 4 * i + 6] = 255
        writer.write(image)
    writer.release()


def _read(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        out.append(frame)
    capture.release()
    return out


def test_a_rotated_clip_holds_the_frames_from_the_offset_on_then_those_before(tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    _write_clip(source, 10)
    decoded = _read(source)
    rotated = seeding.rotated_clip(source, 3, 10, 10.0, tmp_path / "rot", "tag")
    frames = _read(rotated)
    assert len(frames) == 10 and golden.probe(rotated).fps == 10.0
    for i, frame in enumerate(frames):
        distance = [float(np.abs(frame.astype(int) - original).mean()) for original in decoded]
        assert int(np.argmin(distance)) == (i + 3) % 10, i  # the copy's frame i is the source's frame i + 3
        assert distance[(i + 3) % 10] < 8.0, i  # encoded again: far nearer than any other frame (20 levels apart)
    assert seeding.rotated_clip(source, 0, 10, 10.0, tmp_path / "rot", "tag") == source
    assert seeding.rotated([0, 1, 2, 3], 1) == [1, 2, 3, 0]


def _box(x: float) -> list[float]:
    return [x, 10.0, x + 20.0, 30.0]


def _result(
    task_id: int, indices: list[int], shown: dict[int, float], t: float = 0.0, fps: float = 30.0
) -> dict[str, Any]:
    """A face-detection result of a 30 fps source whose processed frames (all of ``indices``, at half size)
    found one face at ``shown[index]`` (x in source pixels)."""
    frames = [
        {
            "frame_index": i,
            "width": 320,
            "height": 240,
            "objects": [{"box": [v / 2 for v in _box(shown[i])], "label": "face"}] if i in shown else [],
        }
        for i in indices
    ]
    return {
        "kind": "result",
        "latency": 0.1,
        "task": {
            "source_id": "cam1",
            "task_id": task_id,
            "created_at": T0 + t,
            "source_node": "edge1",
            "meta": {"resolution": "240p", "fps": fps},
            "raw_meta": {"width": 640, "height": 480},
            "payload": {"frame_indices": indices, "size_bytes": 1000},
            "dag": {
                "_start": {"name": "_start", "service": "_start", "node": "edge1", "next": ["face"], "done": True},
                "face": {
                    "name": "face",
                    "service": "face-detection",
                    "node": "cloud",
                    "prev": ["_start"],
                    "next": ["_end"],
                    "done": True,
                    "result": {"application": "face-detection", "frames": frames},
                },
                "_end": {"name": "_end", "service": "_end", "node": "cloud", "prev": ["face"], "done": True},
            },
        },
    }


def _reference(xs: list[float]) -> list[dict[str, Any]]:
    return [{"objects": [{"class": "face", "box": _box(x)}]} for x in xs]


def test_accuracy_counts_every_source_frame_and_a_skipped_frame_carries_the_last_result() -> None:
    # The face moves at frame 3 of 6. A policy at full fps processes every frame; one at a third of it
    # processes frames 0 and 3; one at a sixth, frame 0 only: its frames 1..5 show frame 0's face.
    reference = _reference([0, 0, 0, 200, 200, 200])
    every = [_result(1, [0, 1, 2], {0: 0, 1: 0, 2: 0}), _result(2, [3, 4, 5], {3: 200, 4: 200, 5: 200}, t=0.1)]
    third = [_result(1, [0], {0: 0}, fps=10), _result(2, [3], {3: 200}, t=0.1, fps=10)]
    # At 5 fps the next task starts at the clip's next pass (a 6-frame clip).
    sixth = [_result(1, [0], {0: 0}, fps=5), _result(2, [0], {0: 0}, t=0.2, fps=5)]
    scored = score_frames(every, reference, first_task=1, end_task=3, source_fps=30.0)
    assert scored is not None and scored["f1"] == 1.0 and scored["frames"] == 6 and scored["frames_processed"] == 6
    scored = score_frames(third, reference, first_task=1, end_task=3, source_fps=30.0)
    assert scored is not None and scored["f1"] == 1.0 and scored["frames"] == 6 and scored["frames_processed"] == 2
    scored = score_frames(sixth, reference, first_task=1, end_task=2, source_fps=30.0)
    # Frames 0..5 in the window: 0-2 right, 3-5 show the old face: 3 hits, 3 false, 3 missed.
    assert scored is not None and scored["frames"] == 6 and scored["frames_processed"] == 1
    assert scored["f1"] == pytest.approx(2 * 3 / (2 * 3 + 3 + 3), abs=1e-4)


def test_a_dropped_task_frames_carry_the_result_before_them() -> None:
    reference = _reference([0, 0, 0, 200, 200, 200, 0, 0, 0])
    records = [
        _result(1, [0, 1, 2], {0: 0, 1: 0, 2: 0}),
        {"kind": "drop", "drop": {"task_id": 2, "at": T0 + 1, "task": {**_result(2, [3, 4, 5], {}, t=0.1)["task"]}}},
        _result(3, [6, 7, 8], {6: 0, 7: 0, 8: 0}, t=0.2),
    ]
    scored = score_frames(records, reference, first_task=1, end_task=4, source_fps=30.0)
    assert scored is not None and scored["frames"] == 9 and scored["frames_processed"] == 6
    assert scored["f1"] == pytest.approx(2 * 6 / (2 * 6 + 3 + 3), abs=1e-4)  # scores are kept to 4 places


def test_looping_frame_indices_unroll_by_creation_time() -> None:
    # A 4-frame clip at 10 fps: task 2 comes 0.4 s after task 1 (one pass later), task 3 1.2 s after task 2
    # (three passes: the tasks between were lost without a record), task 4 right after it.
    records = [
        _result(1, [0, 1], {}),
        _result(2, [0, 1], {}, t=0.4),
        _result(3, [0, 1], {}, t=1.6),
        _result(4, [2, 3], {}, t=1.8),
    ]
    assert unroll(records, 4, 10.0) == {1: [0, 1], 2: [4, 5], 3: [16, 17], 4: [18, 19]}


def test_per_task_the_node_of_each_stage_is_kept() -> None:
    records = [_result(4, [0], {0: 0}, t=1.0), _result(5, [3], {}, t=2.0)]
    records[1]["task"]["dag"]["face"]["node"] = "edge1"
    lost = _result(6, [6], {}, t=3.0)["task"]
    records.append(
        {"kind": "drop", "drop": {"task_id": 6, "stage": "face", "node": "cloud", "reason": "timeout", "task": lost}}
    )
    run = RunRecords("p", 0, started=T0, duration_s=10, first_task=4, end_task=7, records=records)
    tasks = per_task(run)
    assert [(t["task_id"], t["stages"]) for t in tasks] == [
        (4, {"face": "cloud"}),
        (5, {"face": "edge1"}),
        (6, {"face": "cloud"}),
    ]
    assert tasks[0]["t_s"] == pytest.approx(1.0) and tasks[0]["resolution"] == "240p"
    assert tasks[2]["dropped"] == "timeout" and tasks[2]["at_node"] == "cloud" and tasks[2]["at_stage"] == "face"


def _face_clip(path: Path, frames: int = 6) -> None:
    """A clip of a drawn face-like pattern on grey (what the models make of it does not matter here)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, (160, 120))
    for i in range(frames):
        image = np.full((120, 160, 3), 128, np.uint8)
        cv2.circle(image, (40 + 10 * i, 60), 25, (180, 200, 230), -1)
        writer.write(image)
    writer.release()


def test_the_golden_reference_is_cached_per_clip_and_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip_path = tmp_path / "clip.mp4"
    _face_clip(clip_path)
    clip = golden.probe(clip_path)
    assert clip.frames == 6
    cache = tmp_path / "golden"
    first = golden.reference("template", clip, "face-detection", cache)
    assert first.computed and len(first.entries) == 6 and first.path.is_file()
    assert first.config.model == "blazeface"  # the processor template's golden model
    calls: list[str] = []
    real = golden.compute

    def counted(clip: golden.ClipInfo, config: golden.GoldenConfig) -> list[dict[str, Any]]:
        calls.append(config.service)
        return real(clip, config)

    monkeypatch.setattr(golden, "compute", counted)
    again = golden.reference("template", clip, "face-detection", cache)
    assert not again.computed and again.entries == first.entries and calls == []  # read back, not recomputed
    other = golden.reference("template", clip, "pedestrian-detection", cache)
    assert other.computed and calls == ["pedestrian-detection"] and other.path != first.path
    assert other.config.model == "ssdlite"
    # Another clip's content is another reference.
    _face_clip(clip_path, frames=7)
    changed = golden.reference("template", golden.probe(clip_path), "face-detection", cache)
    assert changed.computed and changed.path != first.path and len(changed.entries) == 7


def test_the_default_suite_holds_out_what_the_agents_were_not_tuned_on_and_says_how_long(tmp_path: Path) -> None:
    settings = BenchSettings(out=tmp_path)
    assert settings.tuned_on.traces == ["step-drop"] and settings.tuned_on.clips == ["synthetic"]
    assert {"cloud-only", "edge-only", "fixed"} <= set(settings.policies)
    assert len([t for t in settings.traces if t != "step-drop"]) >= 2
    info = golden.ClipInfo(tmp_path / "c.mp4", 300, 30.0, 1280, 720, "0" * 64)
    synthetic = suite.Clip("synthetic", info.path, info, None, "face-detection", "face", None)
    real = suite.Clip("bikes", info.path, info, None, "pedestrian-detection", "pedestrian-detection", {})
    cases = suite.cases(settings, [synthetic, real])
    held = [suite.held_out(settings, c) for c in cases]
    assert held == [True] * 5 + [False]  # held-out cases first; only step-drop on the synthetic clip was tuned on
    assert cases[-1].trace == "step-drop" and cases[-1].clip.label == "synthetic"
    runs = 3 * 2 * len(settings.policies) * 2
    assert suite.runs(settings, [synthetic, real]) == runs
    per_run = settings.duration_s + settings.drain_s + suite.RUN_SETUP_S
    assert suite.estimate_s(settings, [synthetic, real], 600) == pytest.approx(runs * per_run + 600 * 0.05)


def test_a_bad_clip_service_or_trace_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    settings = BenchSettings(out=tmp_path / "out")
    with pytest.raises(ConfigError, match="text-recognition reads bbox, not frames"):
        suite.resolve_clip(settings, ClipChoice(clip="synthetic", service="text-recognition"), 30)
    with pytest.raises(ConfigError, match="unknown service 'nope'"):
        suite.resolve_clip(settings, ClipChoice(clip="synthetic", service="nope"), 30)
    with pytest.raises(ConfigError, match="does not exist"):
        suite.resolve_clip(settings, ClipChoice(clip=str(tmp_path / "missing.mp4")), 30)
    with pytest.raises(ConfigError, match="no real clip 'bogus'"):
        suite.resolve_clip(settings, ClipChoice(clip="bogus"), 30)
    with pytest.raises(ConfigError, match="unknown trace 'nope'"):
        suite.check_traces(settings.model_copy(update={"traces": ["nope"]}))
    assert not (tmp_path / "out").exists()  # nothing generated for a refused run


def test_a_clip_runs_through_its_service_processor_template_with_the_model_asked_for(tmp_path: Path) -> None:
    settings = BenchSettings(out=tmp_path / "out")
    real = Path(__file__).resolve().parents[2] / "datasource" / "clips" / "car-detection.mp4"
    choice = ClipChoice(clip=str(real), service="pedestrian-detection", model="ssdlite")
    clip = suite.resolve_clip(settings, choice, 30)
    assert clip.label == "car-detection" and clip.truth is None and clip.info.frames == 377
    assert clip.stage == "pedestrian-detection" and clip.processor is not None
    assert clip.processor["application"] == {
        "alias": "pedestrian-detection",
        "params": {"model": "ssdlite", "threads": 1},
    }
    assert clip.processor["labeller"]["golden_model"] == "ssdlite"  # the template's labeller comes along
    default = suite.resolve_clip(settings, ClipChoice(clip=str(real)), 30)
    assert default.service == "face-detection" and default.stage == "face"  # the template's default DAG
    assert default.processor is not None and default.processor["application"]["params"]["model"] == "haar"
