"""How the C allocator treats the large blocks video processes allocate and free at a steady rate."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

MMAP_THRESHOLD = 32 << 20  # a 2160p BGR frame (24.9 MB) still comes from the heap
TRIM_THRESHOLD = 64 << 20  # free memory kept for reuse: more than one segment's frames and codec state
ARENAS = 2


def reuse_freed_frames(
    mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD, arenas: int = ARENAS
) -> bool:
    """Keep freed frame memory in the heap for the next segment instead of returning it to the system.

    Every segment allocates and frees its frames (2.7 MB each at 720p) and a codec's buffers (about 12 MB
    per encoder or decoder opened). Given back to the system, each is mapped afresh for the next segment
    and every page of it faults on first touch: measured at 720p with a 1 MiB mmap threshold, the
    generator took 6,000 minor faults and 24 ms of kernel time per 4-frame segment, a third of its CPU,
    and the processor (glibc's defaults) 3,200 faults and 17 ms. Fixed thresholds keep such blocks in the
    heap (glibc's own adapt only after the first free, and trim whatever goes over twice the block size);
    the trim threshold bounds what a process holds beyond its working set, and two arenas stop each worker
    thread from growing a heap of its own. Call before threads start. Returns False where the C library
    has no ``mallopt`` (not glibc): nothing changes there."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = all(
        [
            mallopt(_M_MMAP_THRESHOLD, mmap_threshold),
            mallopt(_M_TRIM_THRESHOLD, trim_threshold),
            mallopt(_M_ARENA_MAX, arenas),
        ]
    )
    if not ok:
        log.warning("mallopt refused the memory settings; frame memory may be mapped afresh for every segment")
    return ok
