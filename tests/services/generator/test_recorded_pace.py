"""``RecordedPace``: a replayed source's frames are due as long after the first one's release as they were
recorded after it. The clock is the test's own."""

from __future__ import annotations

import pytest

from services.generator.pipeline import RecordedPace

pytestmark = pytest.mark.unit


def test_frames_are_due_at_their_recorded_distance_from_the_first() -> None:
    now = [50.0]
    pace = RecordedPace(clock=lambda: now[0])
    assert pace.wait_s(10.0) == 0.0  # the first frame is due at once, whatever its timestamp
    assert pace.wait_s(10.5) == pytest.approx(0.5)
    now[0] = 50.4
    assert pace.wait_s(10.5) == pytest.approx(0.1)
    now[0] = 52.0
    assert pace.wait_s(11.0) == pytest.approx(-1.0)  # late: due now (not positive)
