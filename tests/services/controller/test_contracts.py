"""The controller's replies parse into the contracts its callers use (``common.contracts.controller``),
through the typed helpers of the inter-service client: real controller, distributor and recording processor
on loopback (the node of the outbox tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from common.contracts.controller import ControllerStatus, FileStored, TaskAccepted
from common.transport import ServiceClient, parse_reply
from tests.services.controller.test_controller import make_task
from tests.services.controller.test_outbox_delivery import Node

pytestmark = pytest.mark.integration


async def test_every_controller_reply_parses_into_its_contract(tmp_path: Path) -> None:
    node = Node(tmp_path)
    task = make_task({"stages": [{"name": "s", "service": "svc-a"}]}, 0)
    with node.processor(), node.distributor(), node.controller() as url:
        async with ServiceClient(retries=0) as client:
            stored = await client.request("PUT", f"{url}/files/{task.payload.file_name}", content=b"segment")
            assert parse_reply(stored, FileStored) == FileStored(stored=task.payload.file_name or "", size=7)

            accepted = parse_reply(await client.post_task(f"{url}/tasks", task), TaskAccepted)
            assert accepted == TaskAccepted(accepted=task.task_uuid, outcome="accepted")
            again = parse_reply(await client.post_task(f"{url}/tasks", task), TaskAccepted)
            assert again.outcome == "duplicate"

            for _ in range(1200):  # bounded: 60 s at most, for a loaded machine
                status = await client.get_model(f"{url}/status", ControllerStatus)
                if status.counts.get("finished") == 1 and status.in_flight == 0:
                    break
                await asyncio.sleep(0.05)
            assert status.counts.get("finished") == 1, f"the task never finished: {status}"
            assert status.node == "cloud" and status.counts["duplicate"] == 1 and status.outbox.pending == 0
            assert status.drops == {} and status.counts["unrecorded"] == 0
