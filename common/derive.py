"""How a segment follows from its knobs: which source frames an fps keeps, at what size, in which files.

The generator's hooks make segments with these rules, frame by frame (the ``fps`` filter calls
:func:`keeps`, the ``resize`` process :func:`scale`, the encoders :mod:`common.encoding`), and
:func:`derive_segments` strings the same calls together over a list of frames: it is how the processor's
golden labeller derives a candidate configuration from a golden segment, so the candidate it scores is,
byte for byte, what a generator at those knobs makes of those frames.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common.encoding import DEFAULT_CODEC, CodecSettings, FrameSink, open_segment, segment_fps
from common.errors import InvalidInput
from common.golden import Knobs

RESOLUTIONS: dict[str, int] = {
    "2160p": 2160,
    "1440p": 1440,
    "1080p": 1080,
    "900p": 900,
    "720p": 720,
    "540p": 540,
    "480p": 480,
    "360p": 360,
    "240p": 240,
    "144p": 144,
}
"""Named resolution -> frame height in pixels."""


def resolution_height(name: str) -> int:
    try:
        return RESOLUTIONS[name]
    except KeyError:
        raise InvalidInput(f"unknown resolution {name!r}; known: {', '.join(RESOLUTIONS)}") from None


def resolution_name(height: int) -> str:
    """The named resolution closest to ``height``."""
    return min(RESOLUTIONS, key=lambda name: abs(RESOLUTIONS[name] - height))


def target_size(width: int, height: int, name: str, *, upscale: bool = False) -> tuple[int, int]:
    """(width, height) for ``name`` with the source aspect ratio, both even (encoders need it)."""
    target_h = resolution_height(name)
    if not upscale and target_h >= height:
        target_h = height
    target_w = round(width * target_h / height)
    return max(2, target_w - target_w % 2), max(2, target_h - target_h % 2)


def fps_ratio(source_fps: float, target_fps: float) -> float:
    """Share of the source frames a target fps keeps (never above one)."""
    return 1.0 if source_fps <= 0 else min(1.0, target_fps / source_fps)


def keeps(n: int, ratio: float) -> bool:
    """Whether the ``n``-th frame seen (from 0) is kept at ``ratio``: when ``n * ratio`` crosses an integer.

    Counting frames seen spreads the kept ones evenly whatever the source's frame numbering."""
    return math.floor((n + 1) * ratio + 1e-9) > math.floor(n * ratio + 1e-9)


def kept_frames(count: int, source_fps: float, target_fps: float) -> list[int]:
    """Indices of ``count`` consecutive frames at ``source_fps`` that ``target_fps`` keeps."""
    ratio = fps_ratio(source_fps, target_fps)
    return [n for n in range(count) if keeps(n, ratio)]


INTERPOLATIONS: dict[str, int] = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}
"""How :func:`scale` may shrink a frame (the generator's ``resize`` hook picks one; ``area`` by default)."""


def scale(image: np.ndarray, resolution: str, *, upscale: bool = False, interpolation: str = "area") -> np.ndarray:
    """``image`` at the named ``resolution`` (aspect kept, see :func:`target_size`); the frame itself when it
    is that size already."""
    height, width = image.shape[:2]
    size = target_size(width, height, resolution, upscale=upscale)
    if size == (width, height):
        return image
    return cv2.resize(image, size, interpolation=INTERPOLATIONS[interpolation])


@dataclass(frozen=True)
class DerivedSegment:
    """One segment file :func:`derive_segments` wrote."""

    indices: list[int]
    """Positions, in the frames given, of the frames it holds."""
    path: Path
    bytes: int


def derive_segments(
    frames: Sequence[np.ndarray],
    source_fps: float,
    knobs: Knobs,
    directory: Path,
    codec: CodecSettings = DEFAULT_CODEC,
) -> Iterator[DerivedSegment]:
    """The segments a generator at ``knobs`` (with the default ``fps`` filter and ``resize`` process and
    ``codec``'s encoder settings) makes of ``frames``, consecutive frames of a ``source_fps`` stream read
    from its start, written one by one into ``directory`` as ``segment-<n>.mp4``.

    Each segment is written before the next is begun, so a caller that reads and removes each file as it
    comes holds one segment's frames and file at a time; a file is overwritten by a later call."""
    kept = kept_frames(len(frames), source_fps, knobs.fps)
    fps = segment_fps(knobs.fps, source_fps)
    for number, start in enumerate(range(0, len(kept), knobs.buffer_size)):
        indices = kept[start : start + knobs.buffer_size]
        path = directory / f"segment-{number}.mp4"
        sink: FrameSink | None = None
        try:
            for i in indices:
                image = scale(frames[i], knobs.resolution)
                if sink is None:
                    sink = open_segment(path, image.shape[1], image.shape[0], fps, knobs.encoding, knobs.qp, codec)
                sink.write(image)
        finally:
            if sink is not None:
                sink.close()
        yield DerivedSegment(indices=indices, path=path, bytes=path.stat().st_size)
