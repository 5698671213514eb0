"""The distributor's replies parse into the contracts its callers use (``common.contracts.distributor``),
through the typed helpers of the inter-service client, against a real server and a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.contracts.distributor import DistributorStats, DropAccepted, ResultAccepted, ResultPage
from common.records import DropReason, DropRecord
from common.transport import ServiceClient, parse_reply
from tests.services.distributor.test_app import finished_task, start

pytestmark = pytest.mark.integration


async def test_every_distributor_reply_parses_into_its_contract(tmp_path: Path) -> None:
    with start(tmp_path) as url:
        async with ServiceClient(retries=0) as client:
            task = finished_task(1)
            stored = parse_reply(await client.post_task(f"{url}/results", task), ResultAccepted)
            assert stored.status == "stored" and stored.seq == 1 and stored.latency is not None
            again = parse_reply(await client.post_task(f"{url}/results", task), ResultAccepted)
            assert again.status == "duplicate"

            drop = DropRecord.of(finished_task(2), DropReason.QUEUE_FULL, "full", node="edge1")
            recorded = await client.post_model(f"{url}/drops", drop, DropAccepted)
            assert recorded.status == "stored" and recorded.seq is not None and recorded.seq > 1

            page = await client.get_model(f"{url}/results", ResultPage)
            assert [r.kind for r in page.records] == ["result", "drop"] and page.cursor == recorded.seq
            result, dropped = page.records
            assert result.task is not None and result.task.task_uuid == task.task_uuid and result.drop is None
            assert dropped.drop == drop and dropped.reason == "queue_full" and dropped.task is None
            latest = await client.get_model(f"{url}/results", ResultPage, params={"tail": "1"})
            assert [r.seq for r in latest.records] == [recorded.seq]

            stats = await client.get_model(f"{url}/stats", DistributorStats)
            assert stats.sources["cam1"].results == 1 and stats.sources["cam1"].drops == {"queue_full": 1}
