"""Process-mode link emulation with real processes and sockets: two senders share one shaped link's rate;
an outage in a trace holds uploads and they resume after it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi import FastAPI, Request

from common.shaping import FileLedger, LinkSpec, TrafficShaper
from common.trace import parse_trace
from common.transport import ServiceClient
from tests.servers import serve

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _senders(state_dir: Path, count: int, nbytes: int) -> list[float]:
    """Seconds each of ``count`` sender processes took to push ``nbytes`` over one 8 Mbit/s link, all told to
    begin once every one is ready (an interpreter slow to start on a loaded machine would otherwise have
    left the others the link to themselves for a while)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.common.shaping_sender", str(state_dir), "8", str(nbytes), "10"],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:  # every one told before any is waited for
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.close()
        out = []
        for proc in procs:
            assert proc.wait(timeout=60) == 0 and proc.stdout is not None  # one short line: the pipe never fills
            out.append(json.loads(proc.stdout.read())["elapsed"])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return out


def test_two_processes_share_one_link(tmp_path: Path) -> None:
    # 8 Mbit/s = 1 MB/s. Alone, 1 MB takes 1 s; two senders of 1 MB each finish after about 2 s,
    # because their chunks interleave on one link instead of each getting the full rate. The lower bounds are
    # the link's (load can only make a sender slower); the upper ones leave a loaded machine room.
    (alone,) = _senders(tmp_path / "solo", 1, 1_000_000)
    assert 0.75 <= alone <= 1.6, alone
    both = _senders(tmp_path / "pair", 2, 1_000_000)
    assert 1.65 <= max(both) <= 2.9, both
    assert min(both) > 1.6, both  # interleaved: neither got the link to itself


def test_an_outage_holds_uploads_over_real_sockets_and_they_resume_after(tmp_path: Path) -> None:
    """A real HTTP server on loopback and the platform's client shaping a link whose trace has an outage
    (process link mode): an upload that starts in the outage arrives only after it ends, nothing fails,
    and uploads after it go at the rate again."""
    arrivals: dict[int, float] = {}
    app = FastAPI()

    @app.post("/upload/{index}")
    async def upload(index: int, request: Request) -> dict[str, int]:
        body = await request.body()
        arrivals[index] = time.time()
        return {"bytes": len(body)}

    origin = time.time() + 0.5
    # 8 Mbit/s, 0 between 1 s and 3 s, 8 again: the upload started in the outage has 1.5 s of slack before its
    # end, so a loaded machine that starts it late still starts it inside.
    low, high = 1.0, 3.0
    trace = parse_trace(f"t_s,mbit_per_s\n0,8\n{low:g},0\n{high:g},8\n", mode="hold")
    link = LinkSpec(trace=trace, trace_start=origin)
    chunk = b"x" * 100_000  # 0.1 s at 8 Mbit/s

    async def post(client: ServiceClient, url: str, index: int, at: float) -> tuple[float, int, int]:
        await asyncio.sleep(max(0.0, origin + at - time.time()))
        began = time.time() - origin
        response = await client.request("POST", f"{url}/upload/{index}", content=chunk, node="cloud", nbytes=len(chunk))
        return began, index, response.status_code

    async def run(url: str) -> list[tuple[float, int, int]]:
        client = ServiceClient(shaper=TrafficShaper({"cloud": link}, source="edge1", ledger=FileLedger(tmp_path)))
        try:
            # One upload starts in the middle of the outage, beside a sender that keeps the link busy.
            late = asyncio.create_task(post(client, url, 100, low + 0.5))
            sent = [await post(client, url, index, 0.0) for index in range(30)]  # 3 s of link time
            sent.append(await late)
        finally:
            await client.aclose()
        return sent

    with serve(app) as url:
        sent = asyncio.run(run(url))
    assert [status for _, _, status in sent] == [200] * 31  # nothing failed, nothing was dropped
    met = [index for began, index, _ in sent if began < high and began + 0.1 > low]
    assert 100 in met and len(met) >= 2, sent  # one began in the outage, one ran into it
    for index in met:
        assert arrivals[index] - origin >= high, (index, arrivals[index] - origin)  # held until it ended
    # The 3 s of link time ended no sooner than the outage's length after they would have without it. Only
    # this side is asserted: a loaded machine can make the uploads slower than the link, never faster; that
    # they resumed at all is every upload answered above.
    assert arrivals[29] - origin >= 3.1 + (high - low) - 0.4, arrivals[29] - origin  # 31 uploads of 0.1 s
