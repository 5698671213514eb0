"""Frame count and size of an MP4 (ISO base media) segment, read from its index without FFmpeg.

Opening a file with OpenCV starts FFmpeg's demuxer and a decoder (with its threads) even when no frame
is decoded; for an application that needs no pixels that costs more than everything else it does. The
index (``moov``) already says how many samples the video track holds and their size, so
:func:`read_index` walks the boxes itself: ``moov/trak`` with a ``vide`` handler, its visual sample
entry (width, height), ``stsz`` (sample count and sizes) and ``stco``/``co64`` (where the chunks lie).
The index is checked against the file: every chunk must start inside it and the samples must fit in it.
Anything it cannot read plainly (another container, a fragmented file, no video track, a damaged box)
returns None, and the caller asks FFmpeg.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAX_INDEX_BYTES = 16 * 1024 * 1024
"""A larger ``moov`` is not read here (a segment's index is a few kilobytes)."""
_CONTAINERS = {b"trak", b"mdia", b"minf", b"stbl"}


@dataclass(frozen=True)
class Mp4Index:
    frames: int
    width: int
    height: int


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes in ``data[start:end]``; a malformed box raises ValueError."""
    out = []
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            if at + 16 > end:
                raise ValueError("truncated box header")
            (size,) = struct.unpack_from(">Q", data, at + 8)
            header = 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            raise ValueError(f"box {kind!r} overruns its parent")
        out.append((kind, at + header, at + size))
        at += size
    return out


def _top_level(f: BinaryIO, file_size: int) -> tuple[bytes, bool] | None:
    """The ``moov`` box's payload and whether an ``mdat`` box was seen, reading only box headers."""
    at, moov, mdat = 0, None, False
    while at + 8 <= file_size:
        f.seek(at)
        head = f.read(16)
        if len(head) < 8:
            return None
        size, kind = struct.unpack_from(">I4s", head)
        header = 8
        if size == 1:
            if len(head) < 16:
                return None
            (size,) = struct.unpack_from(">Q", head, 8)
            header = 16
        elif size == 0:
            size = file_size - at
        if size < header or at + size > file_size:
            return None
        if kind == b"moov":
            if size - header > MAX_INDEX_BYTES:
                return None
            f.seek(at + header)
            moov = f.read(size - header)
        elif kind == b"mdat":
            mdat = True
        elif kind in (b"moof", b"mfra"):
            return None  # fragmented: the samples are not in the moov index
        at += size
    return (moov, mdat) if moov is not None else None


def _video_track(moov: bytes) -> tuple[int, int, int, int, list[int]] | None:
    """(samples, bytes of all samples, width, height, chunk offsets) of the first video track."""
    for kind, start, end in _boxes(moov, 0, len(moov)):
        if kind != b"trak":
            continue
        found: dict[bytes, tuple[int, int]] = {}
        stack = [(start, end)]
        while stack:
            s, e = stack.pop()
            for child, cs, ce in _boxes(moov, s, e):
                if child in _CONTAINERS:
                    stack.append((cs, ce))
                elif child in (b"hdlr", b"stsd", b"stsz", b"stco", b"co64"):
                    found.setdefault(child, (cs, ce))
        hdlr = found.get(b"hdlr")
        if hdlr is None or moov[hdlr[0] + 8 : hdlr[0] + 12] != b"vide":
            continue
        if not {b"stsd", b"stsz"} <= found.keys() or not ({b"stco", b"co64"} & found.keys()):
            return None
        s, e = found[b"stsd"]
        if e - s < 8 + 8 + 28:
            return None
        width, height = struct.unpack_from(">HH", moov, s + 8 + 8 + 24)  # the first visual sample entry
        s, e = found[b"stsz"]
        uniform, count = struct.unpack_from(">II", moov, s + 4)
        if uniform:
            total = uniform * count
        else:
            if e - s < 12 + 4 * count:
                return None
            total = sum(struct.unpack_from(f">{count}I", moov, s + 12))
        wide = b"co64" in found
        s, e = found[b"co64"] if wide else found[b"stco"]
        (chunks,) = struct.unpack_from(">I", moov, s + 4)
        width_bytes = 8 if wide else 4
        if e - s < 8 + width_bytes * chunks:
            return None
        offsets = list(struct.unpack_from(f">{chunks}{'Q' if wide else 'I'}", moov, s + 8))
        return count, total, width, height, offsets
    return None


def read_index(path: Path) -> Mp4Index | None:
    """The video track's frame count and size from the file's index, or None (see the module doc)."""
    try:
        with open(path, "rb") as f:
            file_size = f.seek(0, 2)
            top = _top_level(f, file_size)
        if top is None or not top[1]:
            return None
        track = _video_track(top[0])
    except (OSError, ValueError, struct.error):
        return None
    if track is None:
        return None
    count, total, width, height, offsets = track
    if count <= 0 or width <= 0 or height <= 0 or not offsets:
        return None
    if total > file_size or any(o >= file_size for o in offsets):
        return None  # the index points past the end: a truncated file
    return Mp4Index(count, width, height)
