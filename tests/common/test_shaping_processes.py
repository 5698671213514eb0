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
    start = time.time() + 1.0  # both interpreters are up before the first byte is booked
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.common.shaping_sender", str(state_dir), "8", str(nbytes), "10", str(start)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    out = []
    for proc in procs:
        stdout, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        out.append(json.loads(stdout)["elapsed"])
    return out


def test_two_processes_share_one_link(tmp_path):
    # 8 Mbit/s = 1 MB/s. Alone, 1 MB takes 1 s; two senders of 1 MB each finish after about 2 s,
    # because their chunks interleave on one link instead of each getting the full rate.
    (alone,) = _senders(tmp_path / "solo", 1, 1_000_000)
    assert alone == pytest.approx(1.0, abs=0.25)
    both = _senders(tmp_path / "pair", 2, 1_000_000)
    assert max(both) == pytest.approx(2.0, abs=0.35)
    assert min(both) > 1.6  # interleaved: neither got the link to itself


def test_an_outage_holds_uploads_over_real_sockets_and_they_resume_after(tmp_path):
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
    low, high = 1.0, 2.0  # 8 Mbit/s, 0 between 1 s and 2 s, 8 again
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
    # Traffic resumed at the rate: the 3 s of link time end 1 s later than without the outage.
    assert arrivals[29] - origin == pytest.approx(3.1 + (high - low), abs=0.4)  # 31 uploads of 0.1 s
