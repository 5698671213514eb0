"""A sending process for the shared-shaping test: pushes BYTES in CHUNKS over one shaped link.

``python -m tests.common.shaping_sender STATE_DIR MBPS BYTES CHUNKS`` prints ``ready`` once its shaper is
set up, waits for a line on its standard input (so senders begin together however long each took to
start), then prints the seconds its transfers took.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from common.shaping import FileLedger, LinkSpec, TrafficShaper


async def main(state_dir: str, mbps: float, nbytes: int, chunks: int) -> None:
    shaper = TrafficShaper({"cloud": LinkSpec(bandwidth_mbps=mbps)}, source="edge1", ledger=FileLedger(state_dir))
    print("ready", flush=True)
    sys.stdin.readline()
    began = time.monotonic()
    for _ in range(chunks):
        await shaper.wait("cloud", nbytes // chunks)
    print(json.dumps({"elapsed": time.monotonic() - began}), flush=True)


if __name__ == "__main__":
    directory, rate, size, parts = sys.argv[1:5]
    asyncio.run(main(directory, float(rate), int(size), int(parts)))
