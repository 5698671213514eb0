"""The outbox's spool on disk: bounds, re-reading at start, skipping bad lines, re-sending after an outage.

The distributor is a small real FastAPI app on loopback that can be told to be unavailable
(answer 503) or to refuse a record (400); the spool is a real file in the test's directory.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from common.metrics import ServiceMetrics
from common.outbox import Outbox, OutboxConfig
from common.transport import ServiceClient
from tests.servers import free_port, serve

pytestmark = pytest.mark.integration


class Distributor:
    def __init__(self) -> None:
        self.answer = 200
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.app = FastAPI()

        @self.app.post("/{kind}")
        async def take(kind: str, request: Request) -> JSONResponse:
            if self.answer != 200:
                return JSONResponse({"error": {"message": "no"}}, status_code=self.answer)
            self.received.append((kind, json.loads(await request.body())))
            return JSONResponse({"status": "stored"})


def make_outbox(path: Path, url: str, metrics: ServiceMetrics | None = None, **config: Any) -> Outbox:
    settings = {"retry_initial_s": 0.05, "retry_max_s": 0.2, "send_timeout_s": 2.0, **config}
    return Outbox(
        path,
        client=ServiceClient(timeout=2.0, connect_timeout=1.0, backoff=0.01),
        distributor_url=lambda: url,
        config=OutboxConfig(**settings),
        metrics=metrics or ServiceMetrics("test"),
    )


async def wait_for(check: Any, timeout: float = 60.0) -> None:
    """Until ``check()`` holds; generous, as the retry loop may get little CPU on a loaded machine."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def test_records_spooled_while_the_distributor_is_down_arrive_once_it_answers(tmp_path: Path) -> None:
    dist = Distributor()
    dist.answer = 503
    with serve(dist.app) as url:
        outbox = make_outbox(tmp_path / "spool.jsonl", url)
        outbox.open()
        try:
            assert await outbox.deliver("drops", json.dumps({"n": 1}), retries=0) == "spooled"
            assert await outbox.deliver("results", json.dumps({"n": 2}), retries=0) == "spooled"
            assert outbox.pending == 2 and len((tmp_path / "spool.jsonl").read_text().splitlines()) == 2
            dist.answer = 200
            await wait_for(lambda: outbox.pending == 0)
            assert dist.received == [("drops", {"n": 1}), ("results", {"n": 2})]
            assert outbox.status().delivered_later == 2 and outbox.lost == 0
            assert not (tmp_path / "spool.jsonl").exists()
            assert await outbox.deliver("drops", json.dumps({"n": 3}), retries=0) == "sent"
            assert outbox.status().delivered_later == 2
        finally:
            await outbox.close()
            await outbox.client.aclose()


async def test_a_restart_reads_the_spool_again_and_skips_bad_lines(tmp_path: Path, caplog: Any) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"  # nothing listens there yet
    spool = tmp_path / "spool.jsonl"
    first = make_outbox(spool, url)
    first.open()
    assert await first.deliver("drops", json.dumps({"n": 1}), retries=0) == "spooled"
    await first.close()
    await first.client.aclose()
    with spool.open("a") as out:
        out.write("not json\n")
        out.write(json.dumps({"kind": "elsewhere", "body": "{}"}) + "\n")
        out.write(json.dumps({"kind": "drops", "body": "{broken"}) + "\n")
        out.write(json.dumps({"kind": "results", "body": json.dumps({"n": 2})}) + "\n")
    dist = Distributor()
    with serve(dist.app, port), caplog.at_level(logging.WARNING, logger="common.outbox"):
        second = make_outbox(spool, url)
        second.open()
        try:
            assert second.status().skipped_lines == 3
            assert sum("line" in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records) == 3
            await wait_for(lambda: second.pending == 0)
            assert dist.received == [("drops", {"n": 1}), ("results", {"n": 2})]
        finally:
            await second.close()
            await second.client.aclose()


async def test_a_full_spool_discards_the_oldest_and_says_so(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    metrics = ServiceMetrics("test")
    outbox = make_outbox(tmp_path / "spool.jsonl", url, metrics, max_records=3)
    for n in range(5):
        assert outbox.put("drops", json.dumps({"n": n})) == "spooled"
    assert outbox.pending == 3 and outbox.lost == 2
    status = outbox.status()
    assert status.discarded == 2 and status.spooled == 5
    kept = [json.loads(json.loads(line)["body"])["n"] for line in (tmp_path / "spool.jsonl").read_text().splitlines()]
    assert kept == [2, 3, 4]
    text = metrics.render()[0].decode()
    assert "dayu_outbox_discarded_total 2.0" in text and "dayu_outbox_pending 3.0" in text
    await outbox.client.aclose()


async def test_the_byte_bound_discards_too_and_an_oversized_record_is_refused(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    outbox = make_outbox(tmp_path / "spool.jsonl", url, max_bytes=1024)
    big = json.dumps({"pad": "x" * 400})
    for _ in range(3):
        outbox.put("drops", big)
    assert outbox.pending == 2 and outbox.status().discarded == 1
    assert (tmp_path / "spool.jsonl").stat().st_size <= 1024
    assert outbox.put("drops", json.dumps({"pad": "x" * 2000})) == "discarded"
    assert outbox.pending == 2 and outbox.status().discarded == 2
    await outbox.client.aclose()


async def test_a_record_the_distributor_refuses_is_counted_not_retried(tmp_path: Path) -> None:
    dist = Distributor()
    dist.answer = 400
    with serve(dist.app) as url:
        outbox = make_outbox(tmp_path / "spool.jsonl", url)
        try:
            assert await outbox.deliver("drops", json.dumps({"n": 1}), retries=2) == "rejected"
            assert outbox.pending == 0 and outbox.status().rejected == 1 and outbox.lost == 1
        finally:
            await outbox.client.aclose()


async def test_a_spool_that_cannot_be_written_keeps_the_record_in_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the spool's directory should be")
    outbox = make_outbox(blocker / "spool.jsonl", f"http://127.0.0.1:{free_port()}")
    assert outbox.put("drops", json.dumps({"n": 1})) == "spooled"
    assert outbox.pending == 1 and outbox.lost == 0
    await outbox.client.aclose()
