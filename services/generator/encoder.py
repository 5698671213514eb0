"""The ``encoder`` hook family: the frames of one segment into one MP4 file, frame by frame as they arrive.

A :class:`SegmentWriter` encodes each frame when the reader hands it over, so when a segment's last frame is
read only that frame and the file's trailer remain: the encoding of the others overlapped the wait for the
frames after them. Writers run in the generator's one encoder thread, write to a temporary name and are
moved to the task's name later, so a reader never sees a half-written segment.

The files themselves are opened by :mod:`common.encoding`, which the golden labeller derives candidates
with too: an encoder hook holds only its settings, so the two cannot encode differently.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import numpy as np

from common.encoding import FrameSink, encoder_alias_for
from common.registry import REGISTRY, Hook
from common.task import Meta

__all__ = [
    "FAMILY",
    "TEMP_SUFFIX_CHARS",
    "Encoder",
    "FailedSegment",
    "FrameSink",
    "SegmentWriter",
    "encoder_alias_for",
    "temporary_files",
]

FAMILY = "encoder"
TEMP_SUFFIX_CHARS = 32
"""A temporary segment file is ``<prefix><32 hex digits>.mp4``: a name of that exact length is the mark
that tells one source's leftovers from another's whose prefix starts the same way."""


class Encoder(Hook):
    def open_sink(self, path: Path, width: int, height: int, fps: float, meta: Meta) -> FrameSink:
        """Start encoding ``width`` x ``height`` BGR frames at ``fps`` into ``path``."""
        raise NotImplementedError

    def writer(self, directory: Path, fps: float, meta: Meta, prefix: str = ".enc-") -> SegmentWriter:
        """A segment to be written frame by frame into a temporary file of ``directory`` named ``prefix*``."""
        return SegmentWriter(self, directory, fps, meta, prefix)

    def encode(self, frames: list[np.ndarray], fps: float, meta: Meta, target: Path) -> int:
        """Encode ``frames`` (BGR, all one size) into ``target`` atomically; returns the file's size in bytes."""
        writer = self.writer(target.parent, fps, meta)
        for frame in frames:
            writer.add(frame)
        try:
            size = writer.finish()
        except BaseException:
            writer.discard()
            raise
        writer.move_to(target)
        return size


class SegmentWriter:
    """One segment being encoded. ``add``, ``finish`` and ``discard`` run in the encoder thread, in that order.

    ``add`` never raises: the first failure is kept and the remaining frames are ignored, and ``finish``
    raises it, so a failed segment ends as one drop record rather than as errors of lost futures.
    """

    def __init__(self, encoder: Encoder, directory: Path, fps: float, meta: Meta, prefix: str = ".enc-") -> None:
        self.encoder, self.directory, self.fps, self.meta, self.prefix = encoder, directory, fps, meta, prefix
        self.path: Path | None = None
        self.frames = 0
        self._sink: FrameSink | None = None
        self._error: BaseException | None = None

    def add(self, frame: np.ndarray) -> None:
        if self._error is not None:
            return
        try:
            if self._sink is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                self.path = self.directory / f"{self.prefix}{uuid.uuid4().hex}.mp4"
                height, width = frame.shape[:2]
                self._sink = self.encoder.open_sink(self.path, width, height, self.fps, self.meta)
            self._sink.write(frame)
            self.frames += 1
        except Exception as exc:  # kept for finish(): the segment becomes a drop record there
            self._error = exc

    def finish(self) -> int:
        """Close the file; its size in bytes. Raises what went wrong while encoding."""
        sink, self._sink = self._sink, None
        if sink is not None:
            try:
                sink.close()
            except Exception as exc:
                self._error = self._error or exc
        if self._error is not None:
            raise self._error
        if self.path is None or self.frames == 0:
            raise ValueError("a segment needs at least one frame")
        size = self.path.stat().st_size
        if size == 0:
            raise ValueError(f"the {self.encoder.alias} encoder wrote an empty file")
        return size

    def move_to(self, target: Path) -> None:
        """Give the finished file its final name (atomically)."""
        assert self.path is not None, "finish() first"
        os.replace(self.path, target)
        self.path = None

    def discard(self) -> None:
        """Close and delete whatever was written (a segment that will never be a task)."""
        sink, self._sink = self._sink, None
        if sink is not None:
            with contextlib.suppress(Exception):  # the file goes anyway
                sink.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


class FailedSegment(SegmentWriter):
    """A segment whose encoder could not even be made: ``finish`` raises why."""

    def __init__(self, error: Exception) -> None:
        self._failure = error
        self.path, self.frames = None, 0

    def add(self, frame: np.ndarray) -> None:
        self.frames += 1

    def finish(self) -> int:
        raise self._failure

    def discard(self) -> None:
        return None


def temporary_files(directory: Path, prefix: str) -> list[Path]:
    """The temporary segment files of writers made with ``prefix`` (and of no other prefix)."""
    return sorted(directory.glob(f"{prefix}{'?' * TEMP_SUFFIX_CHARS}.mp4"))


REGISTRY.declare_modules(FAMILY, ["services.generator.encoders.opencv", "services.generator.encoders.x264"])
