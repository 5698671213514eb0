"""The processor's bodies take numbers and flags as their schema says, on a real processor on loopback with
a real segment: ``POST /process`` (the task, parsed from JSON by the route) and ``POST /label`` (the
configurations to score, validated by FastAPI as Python objects) refuse ``false``, ``true`` and ``"3"`` in
a number field naming the field, and run valid bodies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.processor.app import create_app
from services.processor.config import ProcessorConfig
from services.processor.settings import ProcessorSettings
from tests import loopback
from tests.bodies import NOT_NUMBERS, with_value
from tests.servers import serve
from tests.services.processor.segments import plain_segment, stage_task

pytestmark = pytest.mark.integration

LABEL = {
    "file_name": "p.mp4",
    "golden": {"resolution": "240p", "fps": 10, "buffer_size": 3},
    "candidates": [{"resolution": "240p", "fps": 5, "buffer_size": 3}],
}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("processor")
    plain_segment(work, "p.mp4", frames=3, size=(160, 120))
    config = ProcessorConfig.model_validate({"application": {"alias": "face-detection"}, "labeller": {"enabled": True}})
    with serve(create_app(ProcessorSettings(work_dir=work, node="cloud", service="face-detection"), config)) as url:
        yield url


@pytest.mark.parametrize(
    "path", [("task_id",), ("meta", "fps"), ("meta", "qp"), ("payload", "frame_indices", 1)], ids=str
)
def test_a_task_with_a_bool_or_a_string_for_a_number_is_refused(url: str, path: tuple[str | int, ...]) -> None:
    task = stage_task("face-detection", "p.mp4", frames=3).model_dump(mode="json")
    field = ".".join(map(str, path))
    for value in NOT_NUMBERS:
        answer = loopback.post(f"{url}/process", json=with_value(task, path, value), timeout=30)
        assert answer.status_code == 400, answer.text
        assert f": {field}: " in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    "path", [("golden", "fps"), ("golden", "qp"), ("candidates", 0, "buffer_size"), ("candidates", 0, "fps")], ids=str
)
def test_a_label_request_with_a_bool_or_a_string_for_a_number_is_a_422_naming_the_field(
    url: str, path: tuple[str | int, ...]
) -> None:
    field = ".".join(map(str, ("body", *path)))
    for value in NOT_NUMBERS:
        answer = loopback.post(f"{url}/label", json=with_value(LABEL, path, value), timeout=30)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["message"].startswith(f"{field}: ")


def test_valid_bodies_still_run(url: str) -> None:
    task = stage_task("face-detection", "p.mp4", frames=3).model_dump(mode="json")
    task["meta"]["fps"] = 10  # an integer where a number is declared
    done = loopback.post(f"{url}/process", json=task, timeout=60)
    assert done.status_code == 200, done.text
    assert done.json()["dag"]["detect"]["done"] is True
    report = loopback.post(f"{url}/label", json=LABEL, timeout=120)
    assert report.status_code == 200, report.text
    assert report.json()["golden"]["fps"] == 10.0 and len(report.json()["candidates"]) == 1
