"""How a segment's frames follow from its knobs: which source frames an fps keeps, and at what size.

The generator makes segments with these rules and the processor's golden labeller derives candidate
configurations from a golden segment with the same ones, so a candidate scored by the labeller holds the
frames, at the size, that the generator would have sent.
"""

from __future__ import annotations

import math

from common.errors import InvalidInput

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
