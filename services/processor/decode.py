"""Decoding a segment file into frames with OpenCV."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common.errors import DecodeError
from services.processor.mp4 import read_index


def decode_segment(path: Path, *, max_frames: int) -> list[np.ndarray]:
    """Every frame of the segment (at most ``max_frames``). An unreadable or empty file is a DecodeError."""
    if path.stat().st_size == 0:
        raise DecodeError(f"segment {path.name!r} is empty", detail={"file": path.name})
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise DecodeError(f"segment {path.name!r} cannot be opened as video", detail={"file": path.name})
        frames: list[np.ndarray] = []
        while len(frames) < max_frames:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            frames.append(frame)
    finally:
        capture.release()
    if not frames:
        raise DecodeError(f"segment {path.name!r} holds no decodable frame", detail={"file": path.name})
    return frames


@dataclass(frozen=True)
class SegmentProbe:
    """What a segment's container says about it, read without decoding a frame."""

    frames: int
    width: int
    height: int


def probe_segment(path: Path, *, max_frames: int) -> SegmentProbe:
    """Frame count and size from the container's index. A file that cannot be opened as video is a
    DecodeError, as in :func:`decode_segment`; frames whose data is damaged behind a sound index are not
    noticed (only decoding would notice them). A container without an index is decoded instead.

    An MP4 index is read directly (:mod:`services.processor.mp4`, no FFmpeg); any other file, or one whose
    index does not hold up against the file, is opened by OpenCV."""
    if path.stat().st_size == 0:
        raise DecodeError(f"segment {path.name!r} is empty", detail={"file": path.name})
    index = read_index(path)
    if index is not None:
        return SegmentProbe(min(index.frames, max_frames), index.width, index.height)
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise DecodeError(f"segment {path.name!r} cannot be opened as video", detail={"file": path.name})
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        capture.release()
    if count <= 0 or width <= 0 or height <= 0:
        frames = decode_segment(path, max_frames=max_frames)
        return SegmentProbe(len(frames), int(frames[0].shape[1]), int(frames[0].shape[0]))
    return SegmentProbe(min(count, max_frames), width, height)
