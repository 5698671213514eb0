"""A sending process for the shared-shaping test: pushes BYTES in CHUNKS over one shaped link.

``python -m tests.common.shaping_sender STATE_DIR MBPS BYTES CHUNKS START`` waits until the wall clock
reaches START (so two senders begin together), then prints the seconds its transfers took.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from common.shaping import FileLedger, LinkSpec, TrafficShaper


async def main(state_dir: str, mbps: float, nbytes: int, chunks: int, start: float) -> None:
    shaper = TrafficShaper({"cloud": LinkSpec(bandwidth_mbps=mbps)}, source="edge1", ledger=FileLedger(state_dir))
    await asyncio.sleep(max(0.0, start - time.time()))
    began = time.monotonic()
    for _ in range(chunks):
        await shaper.wait("cloud", nbytes // chunks)
    print(json.dumps({"elapsed": time.monotonic() - began}))


if __name__ == "__main__":
    directory, rate, size, parts, at = sys.argv[1:6]
    asyncio.run(main(directory, float(rate), int(size), int(parts), float(at)))
