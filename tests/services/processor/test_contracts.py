"""The processor's replies parse into the contracts its callers use (``common.contracts.processor``, the
Task), through the typed helpers of the inter-service client, against a real server and a real segment."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.contracts.ops import Health
from common.contracts.processor import ModelInfo, QueueCleared, QueueLength
from common.task import Task
from common.transport import ServiceClient, parse_reply
from tests.services.processor.segments import plain_segment, stage_task
from tests.services.processor.test_app import start

pytestmark = pytest.mark.integration


async def test_every_processor_reply_parses_into_its_contract(tmp_path: Path) -> None:
    plain_segment(tmp_path, "p.mp4", frames=2, size=(160, 120))
    with start(tmp_path, service="passthrough") as url:
        async with ServiceClient(retries=0, timeout=30) as client:
            task = stage_task("passthrough", "p.mp4", frames=2)
            response = await client.request(
                "POST", f"{url}/process", content=task.to_json(), headers={"content-type": "application/json"}
            )
            done = parse_reply(response, Task)
            assert done.task_uuid == task.task_uuid and done.stage.done and done.stage.result is not None

            assert await client.get_model(f"{url}/queue", QueueLength) == QueueLength(length=0, capacity=32)
            model = await client.get_model(f"{url}/model", ModelInfo)
            assert model.alias == "passthrough" and model.service == "passthrough" and model.processed == 1
            assert model.queue.capacity == 32 and model.threads is not None and model.threads >= 1
            assert await client.post_model(f"{url}/queue/clear", None, QueueCleared) == QueueCleared(cleared=0)

            health = await client.get_model(f"{url}/health", Health)
            assert health.status == "ok" and health.service == "processor"
