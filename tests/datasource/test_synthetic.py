"""Synthetic datasets: deterministic from the seed, with manifest and per-frame ground truth."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from common.errors import ConfigError, DecodeError
from datasource.manifest import load_ground_truth, load_manifest
from datasource.synthetic import SyntheticSpec, ensure_default_dataset, generate_dataset
from datasource.synthetic.scene import PLATE_ALPHABET

pytestmark = pytest.mark.integration

SPEC = SyntheticSpec(seed=3, width=640, height=360, fps=30, clips=2, frames_per_clip=8)


def digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_same_seed_same_dataset_other_seed_other_plates(tmp_path: Path) -> None:
    a = generate_dataset(tmp_path / "a" / "ds", SPEC)
    generate_dataset(tmp_path / "b" / "ds", SPEC)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")  # clips byte for byte, truth and manifest
    generate_dataset(tmp_path / "c" / "ds", SPEC.model_copy(update={"seed": 4}))
    truth_a = (tmp_path / "a" / "ds" / "ground_truth.jsonl").read_text()
    assert truth_a != (tmp_path / "c" / "ds" / "ground_truth.jsonl").read_text()
    assert a.total_frames == 16 and [c.start for c in a.clips] == [0, 8]


def test_manifest_truth_and_clips_agree(tmp_path: Path) -> None:
    generate_dataset(tmp_path / "ds", SPEC)
    manifest = load_manifest(tmp_path / "ds")
    truth = load_ground_truth(tmp_path / "ds", manifest)
    assert sorted(truth) == list(range(16))
    classes = {o["class"] for t in truth.values() for o in t["objects"]}
    assert {"vehicle", "plate", "text"} <= classes
    for t in truth.values():
        for o in t["objects"]:
            x1, y1, x2, y2 = o["box"]
            assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 360
            if o["class"] == "text" and not o.get("ignore"):
                assert o["text"] and set(o["text"]) <= set(PLATE_ALPHABET)
    cap = cv2.VideoCapture(str(tmp_path / "ds" / "clips" / "clip_001.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 8 and cap.read()[1].shape == (360, 640, 3)
    cap.release()


def test_density_and_speed_vary_over_time(tmp_path: Path) -> None:
    from datasource.synthetic.scene import Scene, SceneOptions

    scene = Scene(SceneOptions(width=320, height=180, fps=10, period_s=6), seed=1)
    levels = [scene.intensity(n) for n in range(60)]
    assert max(levels) - min(levels) > 0.9


def test_manifest_without_counts_is_probed_and_bad_files_are_named(tmp_path: Path) -> None:
    generate_dataset(tmp_path / "ds", SPEC)
    (tmp_path / "ds" / "manifest.yaml").write_text("clips:\n  - file: clip_000.mp4\n  - file: clip_001.mp4\n")
    manifest = load_manifest(tmp_path / "ds")
    assert [(c.frames, c.start) for c in manifest.clips] == [(8, 0), (8, 8)]
    assert (manifest.width, manifest.height, manifest.fps) == (640, 360, 30)
    (tmp_path / "ds" / "clips" / "clip_001.mp4").write_bytes(b"not a video at all")
    with pytest.raises(DecodeError, match=r"clip_001\.mp4"):
        load_manifest(tmp_path / "ds")
    (tmp_path / "ds" / "manifest.yaml").write_text("clips:\n  - file: gone.mp4\n")
    with pytest.raises(ConfigError, match=r"gone\.mp4"):
        load_manifest(tmp_path / "ds")
    (tmp_path / "ds" / "manifest.yaml").write_text("clips:\n  - file: clip_000.mp4\nground_truth: ground_truth.jsonl\n")
    (tmp_path / "ds" / "ground_truth.jsonl").write_text('{"frame": 0, "objects": []}\n{"frame": \n')
    with pytest.raises(ConfigError, match=r"ground_truth.jsonl:2"):
        load_ground_truth(tmp_path / "ds", load_manifest(tmp_path / "ds"))


def test_default_dataset_is_made_once(tmp_path: Path) -> None:
    small = SPEC.model_copy(update={"clips": 1, "frames_per_clip": 3})
    seen: list[int] = []
    first = ensure_default_dataset(tmp_path, lambda done, total: seen.append(done), spec=small)
    assert seen[-1] == 3 and json.loads((first / "ground_truth.jsonl").read_text().splitlines()[0])["frame"] == 0
    seen.clear()
    assert ensure_default_dataset(tmp_path, lambda done, total: seen.append(done), spec=small) == first
    assert seen == []


def test_command_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "datasource.synthetic",
            "--out",
            str(tmp_path / "cli"),
            "--seed",
            "2",
            "--width",
            "320",
            "--height",
            "180",
            "--clips",
            "1",
            "--frames",
            "4",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 4 frames" in done.stdout and "4/4 frames" in done.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "datasource.synthetic", "--out", str(tmp_path / "x"), "--width", "321"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "even" in bad.stderr
