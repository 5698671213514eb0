"""OpenCV detectors (HOG people, Haar plates) on the synthetic clip, scored by common.accuracy.

Measured on this clip (seed 11, 8 frames, 16 people and 22 whole plates in view over the frames):
pedestrian-detection F1 0.93 at 720p and 1.0 at 360p with no false positive; plate-detection (Haar)
precision 0.92 and recall 0.55 at 720p, precision 0.92 and recall 0.50 at 360p. Thresholds sit below.
"""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import DecodeError
from common.registry import REGISTRY
from tests.services.processor.applications.synthetic import Clip, scored

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("height", [720, 360])
def test_pedestrians_found(clip: Clip, height: int) -> None:
    app = REGISTRY.create("application", "pedestrian-detection", {"threads": 2})
    app.load()
    results = app.process(clip.at(height), None)
    assert {o.label for r in results for o in r.objects} == {"person"}
    scores = scored(clip, "pedestrian-detection", results)
    assert scores["precision"] >= 0.9, scores
    assert scores["recall"] >= 0.75, scores


@pytest.mark.parametrize("height", [720, 360])
def test_plates_found(clip: Clip, height: int) -> None:
    app = REGISTRY.create("application", "plate-detection", {"threads": 2})
    app.load()
    results = app.process(clip.at(height), None)
    scores = scored(clip, "plate-detection", results)
    assert scores["precision"] >= 0.8, scores
    assert scores["recall"] >= 0.4, scores


@pytest.mark.parametrize("alias", ["pedestrian-detection", "plate-detection"])
def test_nothing_found_on_an_empty_road(alias: str) -> None:
    app = REGISTRY.create("application", alias, {"threads": 1})
    app.load()
    road = np.full((360, 640, 3), 90, np.uint8)
    (result,) = app.process([road], None)
    assert result.objects == [] and (result.width, result.height) == (640, 360)


@pytest.mark.parametrize("alias", ["pedestrian-detection", "plate-detection"])
def test_empty_and_corrupt_segments_are_decode_errors(alias: str) -> None:
    app = REGISTRY.create("application", alias, {})
    with pytest.raises(DecodeError, match="no frame"):
        app.process([], None)
    with pytest.raises(DecodeError, match="too small"):
        app.process([np.zeros((4, 4, 3), np.uint8)], None)
