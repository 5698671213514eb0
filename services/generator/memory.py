"""Keep the generator's resident memory near what it holds: frames go back to the system when freed."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8


def return_freed_frames(threshold: int = 1 << 20, arenas: int = 2) -> bool:
    """Every segment allocates and frees ``buffer_size`` frames (2.7 MB each at 720p). glibc raises its mmap
    threshold after the first such block is freed, so later frames come from the heap and what they leave
    behind stays resident; a fixed threshold keeps each frame in its own mapping, returned when freed, and
    a small arena count stops each worker thread from growing a heap of its own. Call before threads
    start. Returns False where the C library has no ``mallopt`` (not glibc): nothing changes there."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = bool(mallopt(_M_MMAP_THRESHOLD, threshold)) and bool(mallopt(_M_ARENA_MAX, arenas))
    if not ok:
        log.warning("mallopt refused the generator's memory settings; frames may stay resident after use")
    return ok
