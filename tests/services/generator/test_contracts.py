"""The generator's replies are its contracts (``common.contracts.generator``): the status and the answers to
opening and closing parse into them, and an open body with an unknown field is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.contracts.generator import GeneratorStatus, SourceChanged, SourceOpen
from tests.e2e.cluster import write_video
from tests.services.generator.test_open_close import created_at_least, generator

pytestmark = pytest.mark.integration


def test_status_open_and_close_answer_their_contracts(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", frames=40, fps=20)
    with generator(tmp_path, autostart=False, path=str(video), loop=True) as (client, _):
        status = GeneratorStatus.model_validate_json(client.get("/status").content)
        assert status.state == "closed" and status.outbox.pending == 0 and status.plan.meta.buffer_size == 2

        refused = client.post("/source/open", json={"params": {}, "speed": 2})
        assert refused.status_code == 422 and "speed" in refused.json()["error"]["message"]

        opened = client.post(
            "/source/open", content=SourceOpen().model_dump_json(), headers={"content-type": "application/json"}
        )
        answer = SourceChanged.model_validate_json(opened.content)
        assert answer.changed and answer.open and answer.opens == 1
        created_at_least(client, 1)
        closed = SourceChanged.model_validate_json(client.post("/source/close").content)
        assert closed.changed and not closed.open and closed.tasks_created >= 1
