"""The ``encoder`` hook family: ``buffer_size`` frames into one MP4 segment file.

Encoders run in a worker thread; they write to a temporary name and rename, so a reader never sees a
half-written segment.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from common.registry import REGISTRY, Hook
from common.task import Meta

FAMILY = "encoder"
H264_NAMES = frozenset({"h264", "x264", "libx264", "avc1"})


class Encoder(Hook):
    def write(self, frames: list[np.ndarray], fps: float, meta: Meta, path: Path) -> None:
        """Encode ``frames`` (BGR, all one size) at ``fps`` into ``path``."""
        raise NotImplementedError

    def encode(self, frames: list[np.ndarray], fps: float, meta: Meta, target: Path) -> int:
        """Encode into ``target`` atomically; returns the segment's size in bytes."""
        if not frames:
            raise ValueError("a segment needs at least one frame")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".enc-", suffix=target.suffix)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            self.write(frames, fps, meta, tmp)
            size = tmp.stat().st_size
            if size == 0:
                raise ValueError(f"the {self.alias} encoder wrote an empty file")
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return size


def encoder_alias_for(encoding: str, default: str) -> str:
    """H.264 needs the x264 encoder (OpenCV cannot write it); other codecs use the configured one."""
    return "x264" if encoding.lower() in H264_NAMES else default


REGISTRY.declare_modules(FAMILY, ["services.generator.encoders.opencv", "services.generator.encoders.x264"])
