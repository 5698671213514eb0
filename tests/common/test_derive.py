"""How a segment follows from its knobs (``common/derive.py``, ``common/encoding.py``), on real frames and files.

The generator's hooks and :func:`common.derive.derive_segments` must make the same files: here the hooks run
as the generator runs them (the ``fps`` filter frame by frame, ``resize``, an encoder's ``SegmentWriter`` fed
one frame at a time), also with settings other than the defaults, and their files are compared byte for byte
with the derived ones. The generator app end to end against the processor's ``POST /label`` is in
``tests/services/processor/test_labeller_generator.py``.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from common.derive import derive_segments, kept_frames, scale
from common.encoding import CodecSettings, open_segment, segment_fps
from common.golden import Knobs
from common.registry import REGISTRY
from common.task import Meta
from services.generator import encoder, frame_filter, frame_process  # noqa: F401  (declare the hooks)
from services.generator.encoder import encoder_alias_for
from services.generator.source import Frame

pytestmark = pytest.mark.unit
SOURCE_FPS = 10.0


def moving_frames(count: int = 9, size: tuple[int, int] = (320, 180)) -> list[np.ndarray]:
    """A textured gradient with a bright square crossing it: something for a codec to spend bits on."""
    width, height = size
    ramp = np.tile(np.linspace(0, 200, width, dtype=np.float32), (height, 1))
    noise = np.random.default_rng(3).integers(0, 40, (height, width), np.uint8)
    frames = []
    for i in range(count):
        grey = np.clip(ramp + noise, 0, 255).astype(np.uint8)
        image = np.dstack([grey, np.roll(grey, 7 * i, axis=1), 255 - grey])
        cv2.rectangle(image, (20 + 25 * i, 40), (70 + 25 * i, 90), (255, 255, 255), -1)
        frames.append(image)
    return frames


def codec_of(path: Path) -> tuple[str, int, int, int]:
    """(codec name, width, height, frames) as FFmpeg reads the file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.codec_context.name, stream.codec_context.width, stream.codec_context.height, frames


def generator_segments(
    frames: list[np.ndarray], knobs: Knobs, work: Path, *, encoder_choice: tuple[str, dict[str, object]] | None = None
) -> list[tuple[list[int], bytes]]:
    """The segments the generator's hooks make of ``frames``, driven as ``services/generator/pipeline.py``
    drives them: filter each frame, resize the kept ones, hand them one by one to the segment's writer."""
    keep = REGISTRY.create("frame_filter", "fps")
    resize = REGISTRY.create("frame_process", "resize")
    meta = Meta(
        resolution=knobs.resolution, fps=knobs.fps, encoding=knobs.encoding, qp=knobs.qp, buffer_size=knobs.buffer_size
    )
    alias, params = encoder_choice or (encoder_alias_for(meta.encoding, "opencv"), {})
    hook = REGISTRY.create("encoder", alias, params)
    segments: list[tuple[list[int], bytes]] = []
    indices: list[int] = []
    writer = None
    for n, image in enumerate(frames):
        if not keep.keep(Frame(image=image, index=n, timestamp=n / SOURCE_FPS), SOURCE_FPS, meta.fps):
            continue
        if writer is None:
            writer = hook.writer(work, segment_fps(meta.fps, SOURCE_FPS), meta)
        writer.add(resize.apply(image, meta.resolution))
        indices.append(n)
        if len(indices) == meta.buffer_size:
            segments.append((indices, _finished(writer, work)))
            indices, writer = [], None
    if writer is not None:
        segments.append((indices, _finished(writer, work)))
    return segments


def _finished(writer: encoder.SegmentWriter, work: Path) -> bytes:
    writer.finish()
    target = work / "made.mp4"
    writer.move_to(target)
    data = target.read_bytes()
    target.unlink()
    return data


@pytest.mark.parametrize(
    "knobs",
    [
        Knobs(resolution="144p", fps=5.0, encoding="h264", qp=28, buffer_size=2),
        Knobs(resolution="240p", fps=10.0, encoding="mp4v", buffer_size=4),
        Knobs(resolution="144p", fps=2.5, encoding="avc1", buffer_size=3),
        Knobs(resolution="144p", fps=10.0, encoding="mpeg4", buffer_size=5),
    ],
    ids=["h264-qp", "mp4v-source-size", "avc1-crf", "not-a-fourcc"],
)
def test_derived_segments_are_the_files_the_generators_hooks_make(knobs: Knobs, tmp_path: Path) -> None:
    frames = moving_frames()
    made = generator_segments(frames, knobs, tmp_path)
    derived = [(s.indices, s.path.read_bytes()) for s in derive_segments(frames, SOURCE_FPS, knobs, tmp_path)]
    assert [i for i, _ in derived] == [i for i, _ in made]
    assert [i for s, _ in derived for i in s] == kept_frames(len(frames), SOURCE_FPS, knobs.fps)
    assert all(len(s) <= knobs.buffer_size for s, _ in derived)
    for (_, ours), (_, theirs) in zip(derived, made, strict=True):
        assert ours == theirs, f"{len(ours)} bytes derived, {len(theirs)} made by the hooks"


def test_settings_other_than_the_defaults_are_followed_the_same_way(tmp_path: Path) -> None:
    """A deployment's x264 settings change the file (so they are really applied), identically on both sides."""
    frames = moving_frames()
    knobs = Knobs(resolution="144p", fps=10.0, encoding="h264", buffer_size=9)
    codec = CodecSettings(preset="veryfast", crf=40, zerolatency=False)
    params: dict[str, object] = {"preset": "veryfast", "crf": 40, "zerolatency": False}
    made = generator_segments(frames, knobs, tmp_path, encoder_choice=("x264", params))
    derived = [s.path.read_bytes() for s in derive_segments(frames, SOURCE_FPS, knobs, tmp_path, codec)]
    default = [s.path.read_bytes() for s in derive_segments(frames, SOURCE_FPS, knobs, tmp_path)]
    assert derived == [data for _, data in made]
    assert len(derived[0]) < len(default[0])  # crf 40 spends far fewer bits than the default 23
    # A generator whose encoder for other codecs is x264 encodes mp4v with it too.
    mp4v = knobs.model_copy(update={"encoding": "mp4v"})
    (segment,) = derive_segments(frames, SOURCE_FPS, mp4v, tmp_path, CodecSettings(encoder="x264"))
    assert codec_of(segment.path)[0] == "h264"


@pytest.mark.parametrize(
    ("encoding", "codec"), [("h264", "h264"), ("avc1", "h264"), ("libx264", "h264"), ("mp4v", "mpeg4"), ("x", "mpeg4")]
)
def test_the_encoding_names_the_codec_of_the_file(encoding: str, codec: str, tmp_path: Path) -> None:
    frames = moving_frames(4)
    sink = open_segment(tmp_path / "s.mp4", 320, 180, 10.0, encoding, None)
    for image in frames:
        sink.write(image)
    sink.close()
    assert codec_of(tmp_path / "s.mp4") == (codec, 320, 180, 4)


def test_segments_follow_the_fps_resolution_and_length_knobs(tmp_path: Path) -> None:
    frames = moving_frames(9, size=(640, 360))
    knobs = Knobs(resolution="144p", fps=5.0, encoding="h264", qp=30, buffer_size=2)
    segments = list(derive_segments(frames, SOURCE_FPS, knobs, tmp_path))
    assert [s.indices for s in segments] == [[1, 3], [5, 7]]
    for s in segments:
        assert s.bytes == s.path.stat().st_size > 0
        assert codec_of(s.path) == ("h264", 256, 144, 2)
    # An fps above the source's keeps every frame; the container never states more than the source has.
    assert segment_fps(15.0, SOURCE_FPS) == SOURCE_FPS and segment_fps(5.0, None) == 5.0
    every = list(
        derive_segments(frames, SOURCE_FPS, knobs.model_copy(update={"fps": 15.0, "buffer_size": 9}), tmp_path)
    )
    assert [s.indices for s in every] == [list(range(9))]


def test_scale_keeps_the_aspect_never_enlarges_by_default_and_passes_a_frame_of_that_size_through() -> None:
    image = np.zeros((360, 640, 3), np.uint8)
    assert scale(image, "240p").shape[:2] == (240, 426)
    assert scale(image, "360p") is image
    assert scale(image, "720p") is image
    assert scale(image, "720p", upscale=True).shape[:2] == (720, 1280)
    with pytest.raises(Exception, match="unknown resolution"):
        scale(image, "999p")
