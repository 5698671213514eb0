"""The generator's hooks on real frames and real files: filters, resize, encoders, sources."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from common.errors import HookError, Unavailable
from common.registry import REGISTRY
from common.task import Meta
from services.generator import encoder, frame_filter, frame_process, source
from services.generator.processes.resize import target_size
from services.generator.source import Frame
from services.generator.sources.rtsp import RtspSource, RtspSourceConfig
from tests.e2e.cluster import write_video

pytestmark = pytest.mark.unit
FAMILIES = (encoder.FAMILY, frame_filter.FAMILY, frame_process.FAMILY, source.FAMILY)


def frame(i: int, image: np.ndarray | None = None, fps: float = 30.0) -> Frame:
    return Frame(image=image if image is not None else np.zeros((36, 64, 3), np.uint8), index=i, timestamp=i / fps)


def decoded(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    images = []
    while True:
        ok, image = cap.read()
        if not ok:
            cap.release()
            return images
        images.append(image)


def count_frames(path: Path) -> tuple[int, tuple[int, int]]:
    images = decoded(path)
    return len(images), (images[-1].shape[:2] if images else (0, 0))


@pytest.mark.parametrize(("source_fps", "target", "expected"), [(30, 10, 10), (30, 30, 30), (25, 10, 10), (10, 30, 10)])
def test_fps_filter_keeps_the_planned_share(source_fps: float, target: float, expected: int) -> None:
    f = REGISTRY.create("frame_filter", "fps")
    kept = [i for i in range(int(source_fps)) if f.keep(frame(i, fps=source_fps), source_fps, target)]
    assert len(kept) == expected
    gaps = {b - a for a, b in itertools.pairwise(kept)}
    assert max(gaps, default=1) - min(gaps, default=1) <= 1  # evenly spread


def test_motion_filter_skips_a_still_scene_but_keeps_a_moving_one() -> None:
    still = REGISTRY.create("frame_filter", "motion", {"threshold": 3.0, "min_fps": 1.0})
    image = np.full((72, 128, 3), 100, np.uint8)
    kept_still = sum(still.keep(frame(i, image.copy()), 30, 30) for i in range(31))
    assert kept_still == 2  # the first frame, and one more when 1 s of source time has passed
    moving = REGISTRY.create("frame_filter", "motion", {"threshold": 3.0, "min_fps": 1.0})
    rng = np.random.default_rng(1)
    kept_moving = sum(moving.keep(frame(i, rng.integers(0, 255, (72, 128, 3), np.uint8)), 30, 30) for i in range(30))
    assert kept_moving == 30


def test_resize_keeps_aspect_and_never_upscales_by_default() -> None:
    resize = REGISTRY.create("frame_process", "resize")
    out = resize.apply(np.zeros((1080, 1920, 3), np.uint8), "360p")
    assert out.shape[:2] == (360, 640)
    assert resize.apply(np.zeros((240, 426, 3), np.uint8), "720p").shape[:2] == (240, 426)
    assert target_size(1000, 750, "480p") == (640, 480)
    with pytest.raises(Exception, match="unknown resolution"):
        resize.apply(np.zeros((10, 10, 3), np.uint8), "999p")


@pytest.mark.parametrize(("alias", "meta"), [("opencv", Meta()), ("x264", Meta(encoding="h264", qp=30))])
def test_encoders_write_decodable_segments(alias: str, meta: Meta, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (180, 320, 3), np.uint8) for _ in range(4)]
    enc = REGISTRY.create("encoder", alias)
    size = enc.encode(frames, 10.0, meta, tmp_path / "seg.mp4")
    assert size == (tmp_path / "seg.mp4").stat().st_size > 0
    assert count_frames(tmp_path / "seg.mp4") == (4, (180, 320))
    assert [p.name for p in tmp_path.iterdir()] == ["seg.mp4"]  # no temporary left behind


@pytest.mark.parametrize(("alias", "meta"), [("opencv", Meta()), ("x264", Meta(encoding="h264", qp=20))])
def test_a_segment_written_frame_by_frame_holds_those_frames_in_order(alias: str, meta: Meta, tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 255, 320, dtype=np.float32), (180, 1))
    # Four smooth frames, each a different brightness: the order survives the lossy codec.
    frames = [np.dstack([np.clip(ramp * 0.5 + 40 * i, 0, 255).astype(np.uint8)] * 3) for i in range(4)]
    writer = REGISTRY.create("encoder", alias).writer(tmp_path, 10.0, meta, prefix=".enc-cam-")
    for image in frames:
        writer.add(image)
        assert writer.path is not None and writer.path.name.startswith(".enc-cam-")  # a hidden temporary
    size = writer.finish()
    writer.move_to(tmp_path / "streamed.mp4")
    assert size == (tmp_path / "streamed.mp4").stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir()] == ["streamed.mp4"]
    out = decoded(tmp_path / "streamed.mp4")
    assert len(out) == 4 and out[0].shape == (180, 320, 3)
    errors = [float(np.abs(o.astype(np.int16) - f.astype(np.int16)).mean()) for o, f in zip(out, frames, strict=True)]
    assert max(errors) < 8, errors  # each decoded frame is the frame written at that place


def test_temporary_files_are_told_apart_by_source(tmp_path: Path) -> None:
    cam = REGISTRY.create("encoder", "opencv").writer(tmp_path, 10.0, Meta(), prefix=".enc-cam-")
    cam1 = REGISTRY.create("encoder", "opencv").writer(tmp_path, 10.0, Meta(), prefix=".enc-cam-1-")
    for writer in (cam, cam1):
        writer.add(np.zeros((36, 64, 3), np.uint8))
        writer.finish()
    # ".enc-cam-" starts ".enc-cam-1-..." too: only the name's exact shape tells whose file it is.
    assert encoder.temporary_files(tmp_path, ".enc-cam-") == [cam.path]
    assert encoder.temporary_files(tmp_path, ".enc-cam-1-") == [cam1.path]


def test_a_segment_whose_encoder_fails_raises_at_finish_and_leaves_no_file(tmp_path: Path) -> None:
    enc = REGISTRY.create("encoder", "opencv")
    writer = enc.writer(tmp_path, 10.0, Meta(encoding="zzzz"))  # no such fourcc
    for _ in range(3):
        writer.add(np.zeros((36, 64, 3), np.uint8))  # never raises: the frames are in the encoder thread
    with pytest.raises(Exception, match="zzzz"):
        writer.finish()
    writer.discard()
    assert list(tmp_path.iterdir()) == []
    empty = enc.writer(tmp_path, 10.0, Meta())
    with pytest.raises(ValueError, match="at least one frame"):
        empty.finish()
    half = enc.writer(tmp_path, 10.0, Meta())
    half.add(np.zeros((36, 64, 3), np.uint8))
    half.discard()  # closing mid-segment: the frames belong to no task
    assert list(tmp_path.iterdir()) == []


def test_x264_qp_changes_the_size(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (180, 320, 3), np.uint8) for _ in range(4)]
    enc = REGISTRY.create("encoder", "x264")
    fine = enc.encode(frames, 10.0, Meta(encoding="h264", qp=10), tmp_path / "fine.mp4")
    coarse = enc.encode(frames, 10.0, Meta(encoding="h264", qp=45), tmp_path / "coarse.mp4")
    assert coarse < fine / 2


def test_file_source_reads_loops_and_carries_ground_truth(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", frames=6, fps=10)
    (tmp_path / "truth.json").write_text(json.dumps([{"faces": i} for i in range(6)]))
    src = REGISTRY.create(
        "source", "file", {"path": str(video), "loop": True, "max_loops": 2, "truth_path": str(tmp_path / "truth.json")}
    )
    meta = src.open()
    assert (meta.width, meta.height, meta.fps, meta.resolution) == (640, 360, 10.0, "360p")
    frames = []
    while (f := src.read()) is not None:
        frames.append(f)
    src.close()
    assert [f.index for f in frames] == [0, 1, 2, 3, 4, 5] * 2
    assert [f.truth for f in frames][:2] == [{"faces": 0}, {"faces": 1}]
    assert frames[-1].timestamp == pytest.approx(1.1)  # source time keeps growing across loops


def test_file_source_refuses_a_missing_file_and_unknown_params(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="does not exist"):
        REGISTRY.create("source", "file", {"path": str(tmp_path / "none.mp4")}).open()
    with pytest.raises(HookError, match="colour"):
        REGISTRY.create("source", "file", {"path": "x.mp4", "colour": "red"})
    with pytest.raises(HookError, match=r"known: .*file"):
        REGISTRY.create("source", "webcam-9000")


def test_rtsp_source_gives_up_after_bounded_reconnects() -> None:
    """Nothing listens on the port: each attempt fails, backoff doubles up to its cap, then it gives up."""
    waits: list[float] = []
    src = RtspSource(
        RtspSourceConfig(
            url="rtsp://127.0.0.1:9/none", reconnect_attempts=3, backoff_s=0.01, max_backoff_s=0.02, open_timeout_s=1
        ),
        sleep=waits.append,
    )
    with pytest.raises(Unavailable, match="after 3 reconnects"):
        src.open()
    assert waits == [0.01, 0.02, 0.02]


def test_interrupting_a_reconnecting_rtsp_source_ends_its_read_early() -> None:
    """Closing a generator interrupts a read that is backing off between reconnects (nothing listens)."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            src.interrupt()

    src = RtspSource(
        RtspSourceConfig(url="rtsp://127.0.0.1:9/none", reconnect_attempts=50, backoff_s=0.01, open_timeout_s=1),
        sleep=sleep,
    )
    assert src.read() is None  # the stream was never up: read reconnects until interrupted
    assert len(waits) == 2  # not 50
    src.close()
