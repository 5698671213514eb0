"""Decoding a segment file into frames with OpenCV."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from common.errors import DecodeError


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
