"""Results in batches: the distributor's ``POST /results/batch`` (all or none) and the outbox that fills it
(results finishing while a call is under way go together in the next), against a real distributor with a
real SQLite store on loopback; every result is answered and stored exactly once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from common.contracts.distributor import ResultsAccepted
from common.metrics import ServiceMetrics
from common.outbox import Outbox, OutboxConfig
from common.task import START
from common.transport import ServiceClient, parse_reply
from tests import loopback
from tests.services.distributor.test_app import finished_task, start

pytestmark = pytest.mark.integration


def batch_body(*bodies: str) -> bytes:
    return ('{"tasks":[' + ",".join(bodies) + "]}").encode()


def stored(url: str) -> list[tuple[str, int]]:
    page = loopback.get(f"{url}/results", params={"limit": 1000}, timeout=10).json()
    return [(r["kind"], r["task_id"]) for r in page["records"]]


async def test_a_batch_is_stored_whole_and_answered_per_task(tmp_path: Path) -> None:
    with start(tmp_path) as url:
        async with ServiceClient(retries=0) as client:
            tasks = [finished_task(i) for i in range(3)]
            body = batch_body(*(t.to_json() for t in tasks))
            headers = {"content-type": "application/json"}
            first = parse_reply(
                await client.request("POST", f"{url}/results/batch", content=body, headers=headers), ResultsAccepted
            )
            assert [a.status for a in first.results] == ["stored"] * 3
            assert [a.key for a in first.results] == [t.key() for t in tasks]
            again = parse_reply(
                await client.request("POST", f"{url}/results/batch", content=body, headers=headers), ResultsAccepted
            )
            assert [a.status for a in again.results] == ["duplicate"] * 3
        assert stored(url) == [("result", 0), ("result", 1), ("result", 2)]


def test_a_bad_task_refuses_the_whole_batch(tmp_path: Path) -> None:
    with start(tmp_path) as url:
        early = finished_task(8)
        early.cursor, early.came_from = START, None
        escaping = finished_task(9, file_name="seg-9.mp4").to_json().replace("seg-9.mp4", "../outside.mp4")
        for bad, why in [(early.to_json(), "at stage '_start'"), (escaping, "file name")]:
            answer = loopback.post(
                f"{url}/results/batch", content=batch_body(finished_task(1).to_json(), bad), timeout=10
            )
            assert answer.status_code == 400 and why in answer.json()["error"]["message"], answer.text
        for body in (b'{"tasks":[]}', b'{"tasks":[{}]}', b"[1,2]", b'{"tasks":[], "more":1}'):
            answer = loopback.post(f"{url}/results/batch", content=body, timeout=10)
            assert answer.status_code in (400, 422), (body, answer.text)
        assert stored(url) == []


def make_outbox(tmp_path: Path, url: str, **config: int) -> Outbox:
    return Outbox(
        tmp_path / "outbox" / "spool.jsonl",
        client=ServiceClient(timeout=10, retries=0),
        distributor_url=lambda: url,
        config=OutboxConfig(**config),
        metrics=ServiceMetrics("test"),
    )


async def test_results_finishing_together_go_in_one_call_each_answered(tmp_path: Path) -> None:
    with start(tmp_path) as url:
        outbox = make_outbox(tmp_path, url, batch_max=16)
        outbox.open()
        try:
            bodies = [finished_task(i).to_json() for i in range(40)]
            outcomes = await asyncio.gather(*(outbox.deliver("results", b, retries=0) for b in bodies))
        finally:
            await outbox.close()
            await outbox.client.aclose()
        assert outcomes == ["sent"] * 40
        # The first goes alone (nothing else waits yet); the 39 queued behind it go 16 at a time.
        assert outbox.batches == {"calls": 3, "records": 39}
        assert sorted(stored(url)) == [("result", i) for i in range(40)]
        assert outbox.counts["spooled"] == 0


async def test_results_a_distributor_cannot_take_in_batches_are_sent_one_by_one(tmp_path: Path) -> None:
    """A distributor without the batch route (404), or a batch with a record it refuses, costs no record."""
    with start(tmp_path) as url:
        outbox = make_outbox(tmp_path, url, batch_max=8)
        outbox.open()
        bad = finished_task(99)
        bad.cursor, bad.came_from = START, None
        try:
            bodies = [finished_task(i).to_json() for i in range(6)]
            outcomes = await asyncio.gather(
                *(outbox.deliver("results", b, retries=0) for b in [*bodies[:3], bad.to_json(), *bodies[3:]])
            )
        finally:
            await outbox.close()
            await outbox.client.aclose()
        assert outcomes == ["sent"] * 3 + ["rejected"] + ["sent"] * 3
        assert sorted(stored(url)) == [("result", i) for i in range(6)]
        assert outbox.counts["rejected"] == 1


async def test_results_waiting_while_the_distributor_is_down_are_spooled_each(tmp_path: Path) -> None:
    outbox = make_outbox(tmp_path, "http://127.0.0.1:9", batch_max=8)  # nothing listens on port 9
    outbox.open()
    try:
        bodies = [finished_task(i).to_json() for i in range(5)]
        outcomes = await asyncio.gather(*(outbox.deliver("results", b, retries=0) for b in bodies))
    finally:
        await outbox.close()
        await outbox.client.aclose()
    assert outcomes == ["spooled"] * 5
    spooled = [json.loads(line) for line in (tmp_path / "outbox" / "spool.jsonl").read_text().splitlines()]
    assert len(spooled) == 5
