"""Reading segments: full decoding and the container probe used by applications that need no pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from common.errors import DecodeError
from services.processor.applications.passthrough import Passthrough, PassthroughConfig
from services.processor.decode import decode_segment, probe_segment
from tests.services.processor.segments import plain_segment

pytestmark = pytest.mark.unit


def test_probe_agrees_with_decoding(tmp_path: Path) -> None:
    path = plain_segment(tmp_path, "p.mp4", frames=5, size=(176, 144))
    probe = probe_segment(path, max_frames=100)
    frames = decode_segment(path, max_frames=100)
    assert (probe.frames, probe.width, probe.height) == (len(frames), frames[0].shape[1], frames[0].shape[0])
    assert probe.frames == 5 and (probe.width, probe.height) == (176, 144)
    assert probe_segment(path, max_frames=2).frames == 2


@pytest.mark.parametrize("kind", ["empty", "corrupt", "truncated"])
def test_probe_refuses_what_cannot_be_opened(tmp_path: Path, kind: str) -> None:
    good = plain_segment(tmp_path, "good.mp4", frames=4)
    bad = tmp_path / "bad.mp4"
    contents = {
        "empty": b"",
        "corrupt": np.random.default_rng(3).bytes(4096),
        "truncated": good.read_bytes()[:200],
    }
    bad.write_bytes(contents[kind])
    with pytest.raises(DecodeError, match=r"bad\.mp4"):
        probe_segment(bad, max_frames=100)


def test_passthrough_needs_no_frames_and_describes_the_probe(tmp_path: Path) -> None:
    path = plain_segment(tmp_path, "p.mp4", frames=3, size=(160, 120))
    app = Passthrough(PassthroughConfig())
    assert Passthrough.needs_frames is False
    results = app.describe(probe_segment(path, max_frames=100), None)
    assert [(r.width, r.height) for r in results] == [(160, 120)] * 3
    assert results[0] is not results[1]  # one result per frame, each its own object
