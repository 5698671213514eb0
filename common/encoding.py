"""How a segment's frames become one MP4 file: the codec a plan's ``encoding`` names, with its settings.

The generator's encoder hooks open every segment file here (``open_opencv``, ``open_x264``), frame by frame
as frames arrive, and :func:`common.derive.derive_segments`, through which the golden labeller derives a
candidate, opens its files with :func:`open_segment`, the same rule and the same openers: a candidate the
labeller scores is the file a camera at those knobs would have sent, not an imitation of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, Protocol

import cv2
import numpy as np

from common.errors import InvalidInput

H264_NAMES = frozenset({"h264", "x264", "libx264", "avc1"})
"""``encoding`` values that mean H.264, which only the x264 encoder writes (OpenCV cannot)."""
DEFAULT_FOURCC = "mp4v"
"""OpenCV's codec for an ``encoding`` that is not a four-character code."""
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
DEFAULT_PRESET = "ultrafast"
DEFAULT_CRF = 23
"""x264's constant rate factor where a plan sets no ``qp``."""
EncoderAlias = Literal["opencv", "x264"]


class FrameSink(Protocol):
    """An encoder's open file: frames in, then closed once."""

    def write(self, frame: np.ndarray) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class CodecSettings:
    """What a deployment may set about encoding beyond the plan's knobs; the defaults are the generator's
    (and every shipped template's)."""

    encoder: EncoderAlias = "opencv"
    """The encoder of codecs that are not H.264 (the generator's ``encoder`` hook)."""
    fourcc: str = DEFAULT_FOURCC
    preset: str = DEFAULT_PRESET
    crf: int = DEFAULT_CRF
    zerolatency: bool = True


DEFAULT_CODEC = CodecSettings()


def is_h264(encoding: str) -> bool:
    return encoding.lower() in H264_NAMES


def encoder_alias_for(encoding: str, default: str) -> str:
    """H.264 needs the x264 encoder; other codecs use the configured one (``default``)."""
    return "x264" if is_h264(encoding) else default


def segment_fps(planned: float, source: float | None) -> float:
    """The frame rate a segment's container states: the plan's, never above the source's."""
    return min(planned, source) if source else planned


def open_opencv(path: Path, width: int, height: int, fps: float, encoding: str, fourcc: str) -> FrameSink:
    """``cv2.VideoWriter`` with ``encoding`` as the codec when it is a four-character code, else ``fourcc``."""
    code = encoding if len(encoding) == 4 else fourcc
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*code), max(fps, 1.0), (width, height))
    if not writer.isOpened():
        raise InvalidInput(f"OpenCV cannot encode with codec {code!r}")
    return _OpenCVSink(writer)


class _OpenCVSink:
    def __init__(self, writer: cv2.VideoWriter) -> None:
        self.writer = writer

    def write(self, frame: np.ndarray) -> None:
        self.writer.write(frame)

    def close(self) -> None:
        self.writer.release()


def open_x264(
    path: Path,
    width: int,
    height: int,
    fps: float,
    qp: int | None,
    *,
    preset: str = DEFAULT_PRESET,
    crf: int = DEFAULT_CRF,
    zerolatency: bool = True,
) -> FrameSink:
    """H.264 through PyAV's libx264: ``qp`` when the plan sets one, else ``crf``."""
    options = {"preset": preset}
    if zerolatency:
        options["tune"] = "zerolatency"
    if qp is not None:
        options["qp"] = str(qp)
    else:
        options["crf"] = str(crf)
    import av  # here, not at import: PyAV and its FFmpeg libraries (~16 MB resident) only for H.264

    container = av.open(str(path), mode="w", format="mp4")
    try:
        stream = container.add_stream("libx264", rate=Fraction(max(fps, 1.0)).limit_denominator(1001), options=options)
        stream.width, stream.height = width - width % 2, height - height % 2  # 4:2:0 needs even sizes
        stream.pix_fmt = "yuv420p"
    except BaseException:
        container.close()
        raise
    return _X264Sink(av, container, stream)


class _X264Sink:
    def __init__(self, av: Any, container: Any, stream: Any) -> None:
        self.av, self.container, self.stream = av, container, stream

    def write(self, frame: np.ndarray) -> None:
        image = self.av.VideoFrame.from_ndarray(frame[: self.stream.height, : self.stream.width], format="bgr24")
        for packet in self.stream.encode(image):
            self.container.mux(packet)

    def close(self) -> None:
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
        finally:
            self.container.close()


def open_segment(
    path: Path,
    width: int,
    height: int,
    fps: float,
    encoding: str,
    qp: int | None,
    codec: CodecSettings = DEFAULT_CODEC,
) -> FrameSink:
    """The file a generator with ``codec`` opens for ``width`` x ``height`` BGR frames at these knobs."""
    if encoder_alias_for(encoding, codec.encoder) == "x264":
        return open_x264(
            path, width, height, fps, qp, preset=codec.preset, crf=codec.crf, zerolatency=codec.zerolatency
        )
    return open_opencv(path, width, height, fps, encoding, codec.fourcc)
