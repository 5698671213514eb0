"""The task family's bodies take numbers and flags as their schema says: a real distributor on loopback
(real SQLite in a temporary folder) refuses ``false``, ``true`` and ``"3"`` in a number field of a task,
a result batch or a drop record with a 400 naming the field, stores nothing of it, and still stores
valid bodies (an integer where a number is declared among them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.bodies import NOT_NUMBERS, with_value
from tests.services.distributor.test_app import finished_task, start

pytestmark = pytest.mark.integration

NUMBER_FIELDS = [
    ("task_id",),
    ("created_at",),
    ("deployment_version",),
    ("meta", "fps"),
    ("meta", "buffer_size"),
    ("raw_meta", "width"),
    ("payload", "size_bytes"),
    ("payload", "frame_indices", 0),
    ("dag", "detect", "timings", "execute"),
]
"""Integer and number fields of the task, at every level it nests them."""
DROP = {"source_id": "cam1", "task_id": 3, "task_uuid": "u3", "root_uuid": "u3", "reason": "queue_full", "at": 5}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with start(tmp_path_factory.mktemp("distributor")) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


def task_body(task_id: int) -> dict[str, Any]:
    body = finished_task(task_id).model_dump(mode="json")
    body["payload"].update(size_bytes=1024, frame_indices=[0, 1])
    body["raw_meta"]["width"] = 640
    return body


def refusal(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    message: str = response.json()["error"]["message"]
    return message


def stored(client: httpx.Client) -> int:
    return sum(s["results"] + sum(s["drops"].values()) for s in client.get("/stats").json()["sources"].values())


@pytest.mark.parametrize("path", NUMBER_FIELDS, ids=lambda path: ".".join(map(str, path)))
def test_a_task_with_a_bool_or_a_string_for_a_number_is_refused_naming_the_field(
    client: httpx.Client, path: tuple[str | int, ...]
) -> None:
    before = stored(client)
    field = ".".join(map(str, path))
    for value in NOT_NUMBERS:
        assert f": {field}: " in refusal(client.post("/results", json=with_value(task_body(1), path, value)))
        batch = {"tasks": [task_body(0), with_value(task_body(1), path, value)]}
        assert f": tasks.1.{field}: " in refusal(client.post("/results/batch", json=batch))
    assert stored(client) == before


def test_a_stage_flag_is_true_or_false(client: httpx.Client) -> None:
    before = stored(client)
    for value in (0, 1, "true"):
        body = with_value(task_body(1), ("dag", "_start", "done"), value)
        assert ": dag._start.done: " in refusal(client.post("/results", json=body))
    assert stored(client) == before


@pytest.mark.parametrize("field", ["task_id", "at"])
def test_a_drop_record_with_a_bool_or_a_string_for_a_number_is_refused(client: httpx.Client, field: str) -> None:
    before = stored(client)
    for value in NOT_NUMBERS:
        assert f": {field}: " in refusal(client.post("/drops", json={**DROP, field: value}))
    assert stored(client) == before


def test_valid_bodies_are_still_stored(client: httpx.Client) -> None:
    """Integers where numbers are declared (``created_at``, timings, a drop's ``at``) are numbers."""
    before = stored(client)
    body = task_body(11)
    body["created_at"] = int(body["created_at"])
    body["dag"]["detect"]["timings"]["execute"] = 1
    assert client.post("/results", json=body).json()["status"] == "stored"
    answers = client.post("/results/batch", json={"tasks": [task_body(12), task_body(13)]}).json()["results"]
    assert [a["status"] for a in answers] == ["stored", "stored"]
    assert client.post("/drops", json=DROP).json()["status"] == "stored"
    assert stored(client) == before + 4
