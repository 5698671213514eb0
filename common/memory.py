"""How the C allocator treats the large blocks a process allocates and frees at a steady rate: kept in the
heap for reuse in video processes (:func:`reuse_freed_frames`), given back to the system in control and
record-keeping processes (:func:`give_back_freed_blocks`)."""

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

GIVE_BACK_MMAP_THRESHOLD = 1 << 20  # a segment's bytes, a decoder's buffers, a rendered frame: mapped apart
GIVE_BACK_TRIM_THRESHOLD = 8 << 20


def give_back_freed_blocks(
    mmap_threshold: int = GIVE_BACK_MMAP_THRESHOLD, trim_threshold: int = GIVE_BACK_TRIM_THRESHOLD, arenas: int = ARENAS
) -> bool:
    """Give blocks of a MiB or more back to the system when freed, instead of keeping them in the heap.

    glibc raises its mmap threshold each time a mapped block is freed (up to 32 MiB), so after the first
    segment or frame such blocks come from the heap of the worker thread's arena (one per thread, up to
    eight per core), and freed below a live small block they stay there: RSS creeps up to each arena's
    high-water mark while the memory in use does not grow. Measured with ``common.memtrace``'s allocator
    figures, rendering frames as the backend does (three at a time through ``asyncio.to_thread``, real
    segments): over 1,800 frames the memory in use stayed at 19.2-19.6 MiB while the freed memory kept
    grew 16.0 -> 39.1 MiB and RSS 145 -> 169 MiB, still rising at the end; with these settings the freed
    memory kept moved between 23.5 and 28.6 MiB after the first 300 frames, RSS 153-158 MiB, no trend.
    For processes that handle a segment or a frame now and then, not a stream of them; the video
    processes take :func:`reuse_freed_frames`. Call before threads start; False where there is no
    ``mallopt`` (not glibc)."""
    return _mallopt(mmap_threshold, trim_threshold, arenas)


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
    return _mallopt(mmap_threshold, trim_threshold, arenas)


def _mallopt(mmap_threshold: int, trim_threshold: int, arenas: int) -> bool:
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
        log.warning("mallopt refused the memory settings; freed blocks may be kept or mapped afresh")
    return ok
