"""The feedback and policy bodies take numbers and flags as their schema says: a real scheduler on loopback
refuses ``false``, ``true`` and ``"3"`` in a number field of feedback (task, drop, labels, and the plain
task and drop record older senders post), of a resource report and of a plan request, with a 400 naming
the field, learns nothing from it, and still takes valid bodies (an integer where a number is declared).

The scheduler reads these bodies as Python objects after ``json.loads``, the way FastAPI validates bodies,
so this is the path where pydantic's lax mode took ``true`` for 1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from common.dag import DagSpec, StageSpec, build_dag
from common.feedback import TaskFeedback
from common.golden import CandidateScore, Knobs, LabelReport
from common.records import DropReason, DropRecord
from common.task import Meta, Task
from tests import loopback
from tests.bodies import NOT_NUMBERS, with_value
from tests.services.scheduler.test_app import CATALOG, plan_request, start

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with start({"agent": {"alias": "cloud-only"}}) as url:
        yield url


def task_feedback() -> dict[str, Any]:
    knobs = Knobs(resolution="360p", fps=5)
    labels = LabelReport(
        golden=Knobs(resolution="720p", fps=10),
        frames=4,
        golden_objects=3,
        golden_model_s=0.2,
        candidates=[
            CandidateScore(knobs=knobs, f1=0.5, precision=0.5, recall=0.5, frames_processed=2, bytes=10, model_s=0.1)
        ],
        cpu_s=0.3,
        segment_bytes=100,
    )
    feedback = TaskFeedback(
        source_id="cam1", task_id=1, source_node="edge1", created_at=1.0, delay=0.5, meta=Meta(), labels=labels
    )
    return feedback.model_dump(mode="json")


def task() -> dict[str, Any]:
    dag = build_dag(DagSpec(stages=[StageSpec(name="d", service="detect")]), CATALOG)
    return Task(source_id="cam1", task_id=3, source_node="edge1", dag=dag).model_dump(mode="json")


def drop() -> dict[str, Any]:
    return DropRecord.of(Task.model_validate(task()), DropReason.DECODE_ERROR, "bad").model_dump(mode="json")


def report() -> dict[str, Any]:
    return {"node": "edge1", "at": 1, "cpu": 0.25, "memory": 0.5, "queue_lengths": {"detect": 2}}


CASES: list[tuple[str, Any, tuple[str | int, ...], str]] = [
    ("/feedback", task_feedback, ("delay",), "task.delay"),
    ("/feedback", task_feedback, ("task_id",), "task.task_id"),
    ("/feedback", task_feedback, ("meta", "fps"), "task.meta.fps"),
    ("/feedback", task_feedback, ("labels", "candidates", 0, "f1"), "task.labels.candidates.0.f1"),
    ("/feedback", task_feedback, ("labels", "golden", "buffer_size"), "task.labels.golden.buffer_size"),
    ("/feedback", task, ("task_id",), "task_id"),
    ("/feedback", task, ("meta", "qp"), "meta.qp"),
    ("/feedback", drop, ("at",), "at"),
    ("/feedback", drop, ("task", "created_at"), "task.created_at"),
    ("/resources", report, ("cpu",), "cpu"),
    ("/resources", report, ("at",), "at"),
    ("/resources", report, ("queue_lengths", "detect"), "queue_lengths.detect"),
    ("/plan", plan_request, ("source_time",), "source_time"),
    ("/plan", plan_request, ("raw_meta", "height"), "raw_meta.height"),
]
"""(route, a valid body, the path of a number field in it, how the error names that field)."""


def learnt(url: str) -> dict[str, int]:
    stats = loopback.get(f"{url}/stats", timeout=10).json()
    return {**stats["feedback"], "nodes": len(stats["nodes_reporting"]), "plans": stats["plans_served"]}


@pytest.mark.parametrize(("route", "valid", "path", "field"), CASES, ids=[f"{c[0]}:{c[3]}" for c in CASES])
def test_a_bool_or_a_string_for_a_number_is_refused_naming_the_field(
    url: str, route: str, valid: Any, path: tuple[str | int, ...], field: str
) -> None:
    before = learnt(url)
    for value in NOT_NUMBERS:
        answer = loopback.post(f"{url}{route}", json=with_value(valid(), path, value), timeout=10)
        assert answer.status_code == 400, answer.text
        assert f": {field}: " in answer.json()["error"]["message"], answer.text
    assert learnt(url) == before


def test_valid_bodies_are_still_taken(url: str) -> None:
    before = learnt(url)
    integral = with_value(task_feedback(), ("delay",), 1)  # an integer where a number is declared
    for route, body in [
        ("/feedback", task_feedback()),
        ("/feedback", integral),
        ("/feedback", task()),
        ("/feedback", drop()),
        ("/resources", report()),
        ("/plan", with_value(plan_request(), ("source_time",), 2)),
    ]:
        answer = loopback.post(f"{url}{route}", json=body, timeout=10)
        assert answer.status_code == 200, (route, answer.text)
    after = learnt(url)
    assert (after["tasks"], after["drops"]) == (before["tasks"] + 3, before["drops"] + 1)
    assert after["nodes"] == 1 and after["plans"] == before["plans"] + 1
