"""``POST /streams/{id}/open`` takes its frame rate as a JSON number, on a real datasource on loopback with
a synthetic dataset: ``false``, ``true`` and ``"3"`` are a 422 naming the field and open nothing; an integer
opens the source at that rate. The segment route's ``fps`` is a query parameter, text in HTTP: it still parses."""

from __future__ import annotations

import pytest

from tests import loopback
from tests.datasource.server import auth, open_source

pytestmark = pytest.mark.integration


def test_a_bool_or_a_string_frame_rate_is_refused_naming_the_field(served: str) -> None:
    for value in (False, True, "3"):
        answer = open_source(served, "cam-x", dataset="tiny", fps=value)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["message"].startswith("body.fps: "), answer.text
    assert loopback.get(f"{served}/streams", headers=auth(), timeout=10).json() == []


def test_an_integer_frame_rate_opens_the_source_and_a_query_fps_still_parses(served: str) -> None:
    assert open_source(served, "cam-y", dataset="tiny", fps=15).status_code == 200
    info = loopback.get(f"{served}/streams/cam-y", headers=auth(), timeout=10).json()
    assert info["fps"] == 15.0
    params = {"client": "g", "frames": "2", "fps": "5"}
    segment = loopback.get(f"{served}/streams/cam-y/segment", params=params, headers=auth(), timeout=30)
    assert segment.status_code == 200, segment.text
