"""The allocator settings video processes start with: freed frames are reused, not mapped afresh.

Each case runs in a fresh interpreter, since mallopt changes the allocator for the whole process. The
figure asserted is a count of page faults, not a time: a frame mapped afresh faults once per 4 KiB page
(675 times for a 720p frame), one reused from the heap does not fault at all."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

FRAME_CYCLE = textwrap.dedent(
    """
    import json, resource, sys, threading
    import numpy as np
    from common.memory import reuse_freed_frames

    ok = reuse_freed_frames(**json.loads(sys.argv[1]))
    out = {}

    def cycle():
        # Frames made in a worker thread, as the generator's reader and the processor's worker make them.
        for i in range(22):
            if i == 2:
                start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            frames = [np.empty((720, 1280, 3), np.uint8) for _ in range(4)]
            for frame in frames:
                frame.fill(i)  # touch every page, as decoding into it does
            del frames
        out["faults_per_segment"] = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / 20

    worker = threading.Thread(target=cycle)
    worker.start()
    worker.join()
    print(json.dumps({"ok": ok, **out}))
    """
)


def _frame_cycle(**settings: int) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", FRAME_CYCLE, json.dumps(settings)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, float] = json.loads(proc.stdout)
    return result


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_freed_frames_are_reused_without_page_faults() -> None:
    result = _frame_cycle()
    assert result["ok"] is True
    # 4 frames of 720p are 2,700 pages; reused from the heap they fault (almost) never.
    assert result["faults_per_segment"] < 100, result


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_frames_mapped_one_by_one_fault_on_every_page() -> None:
    # The counter-case, so the test above can tell the two apart: with a 1 MiB mmap threshold every frame
    # gets a mapping of its own, returned when freed, and each of its pages faults again next time.
    result = _frame_cycle(mmap_threshold=1 << 20)
    assert result["ok"] is True
    assert result["faults_per_segment"] > 2000, result


HOLES = textwrap.dedent(
    """
    import ctypes, json, sys
    from common import memtrace
    from common.memory import give_back_freed_blocks

    ok = give_back_freed_blocks() if sys.argv[1] == "give-back" else None
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.free(libc.malloc(8 << 20))  # under glibc's defaults, the freed mapping raises the threshold to 8 MiB
    # Twelve segment-sized blocks, then a block that outlives them (a record, a cache entry) above them in
    # the heap, then the twelve freed: under the defaults they come from the heap and their memory stays
    # there, below the live block, where trimming cannot reach it.
    bigs = [libc.malloc((3 << 20) + i * 65536) for i in range(12)]
    live = libc.malloc(512 << 10)
    for big in bigs:
        libc.free(big)
    print(json.dumps({"ok": ok, **memtrace.allocator_stats()}))
    """
)


def _holes(mode: str) -> dict[str, int]:
    proc = subprocess.run([sys.executable, "-c", HOLES, mode], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, int] = json.loads(proc.stdout)
    return result


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt and mallinfo2 are glibc's")
def test_freed_blocks_are_given_back_not_kept_below_live_ones() -> None:
    result = _holes("give-back")
    assert result["ok"] is True
    # The 8 MiB block and the twelve ~3 MiB ones were mapped apart and went back to the system when freed.
    assert result["fordblks"] < 1 << 20, result


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt and mallinfo2 are glibc's")
def test_glibc_defaults_keep_freed_blocks_in_the_heap() -> None:
    # The counter-case, so the test above can tell the two apart: once the first block was freed glibc's
    # threshold rose, the others came from the heap, and each is held as a hole below its small neighbour
    # (twelve blocks of 3 to 3.7 MiB: about 40 MiB).
    result = _holes("default")
    assert result["fordblks"] > 25 << 20, result
