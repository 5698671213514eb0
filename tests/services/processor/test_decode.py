"""Reading segments: full decoding and the container probe used by applications that need no pixels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from common.errors import DecodeError
from services.processor.applications.passthrough import Passthrough, PassthroughConfig
from services.processor.decode import decode_segment, probe_segment
from services.processor.mp4 import read_index
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


@pytest.mark.parametrize(("frames", "size"), [(1, (64, 48)), (4, (426, 240)), (6, (1280, 720))])
def test_the_mp4_index_says_what_ffmpeg_says(tmp_path: Path, frames: int, size: tuple[int, int]) -> None:
    """The index read without FFmpeg against OpenCV's own reading of the same file."""
    path = plain_segment(tmp_path, "p.mp4", frames=frames, size=size)
    index = read_index(path)
    capture = cv2.VideoCapture(str(path))
    try:
        expected = tuple(
            int(capture.get(p)) for p in (cv2.CAP_PROP_FRAME_COUNT, cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT)
        )
    finally:
        capture.release()
    assert index is not None
    assert (index.frames, index.width, index.height) == expected == (frames, *size)


def test_an_index_pointing_past_the_end_is_not_trusted(tmp_path: Path) -> None:
    data = bytearray(plain_segment(tmp_path, "p.mp4", frames=4).read_bytes())
    at = data.index(b"stco")
    data[at + 12 : at + 16] = (len(data) + 10).to_bytes(4, "big")  # the first chunk starts after the file
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    assert read_index(bad) is None


def test_other_containers_are_probed_by_ffmpeg(tmp_path: Path) -> None:
    path = tmp_path / "p.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (160, 120))
    assert writer.isOpened()
    for i in range(3):
        writer.write(np.full((120, 160, 3), 50 * i, np.uint8))
    writer.release()
    assert read_index(path) is None
    probe = probe_segment(path, max_frames=100)
    assert (probe.frames, probe.width, probe.height) == (3, 160, 120)


def test_the_mp4_index_of_an_h264_segment(tmp_path: Path) -> None:
    """H.264 in MP4, as the generator's x264 encoder writes it through PyAV."""
    av = pytest.importorskip("av")
    path = tmp_path / "h.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((240, 320, 3), 30 * i, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    index = read_index(path)
    assert index is not None and (index.frames, index.width, index.height) == (5, 320, 240)
    assert len(decode_segment(path, max_frames=100)) == 5
