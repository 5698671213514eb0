"""The strict number and flag types of the request bodies (common.strict), without a server: what each
takes and refuses, in both ways a body is validated (JSON, and Python objects after ``json.loads`` as
FastAPI and the scheduler do), what still works in code that builds models, and that the published schema
is the same as before."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from common.dag import DagSpec
from common.feedback import FEEDBACK
from common.golden import Knobs
from common.plan import ResourceReport
from common.records import DropReason, DropRecord
from common.strict import Boolean, Integer, NonNegativeNumber, Number
from common.task import Meta, Task

pytestmark = pytest.mark.unit


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: Integer = 0
    ratio: Number = 0.0
    flag: Boolean = False
    wait: NonNegativeNumber = 0.0


def refused(data: dict[str, Any]) -> list[str]:
    """The fields named by the errors of ``data`` in each way of validating it (they must agree)."""
    named = []
    ways: list[Callable[[], object]] = [
        lambda: Body.model_validate_json(json.dumps(data)),
        lambda: Body.model_validate(data),
    ]
    for validate in ways:
        with pytest.raises(ValidationError) as caught:
            validate()
        named.append(sorted(".".join(map(str, e["loc"])) for e in caught.value.errors()))
    assert named[0] == named[1], f"JSON and Python validation disagree: {named}"
    return named[0]


@pytest.mark.parametrize("value", [False, True, "3", "3.0", None, [3]])
def test_an_integer_is_a_json_integer(value: object) -> None:
    assert refused({"count": value}) == ["count"]


def test_an_integer_is_written_as_one() -> None:
    assert refused({"count": 3.5}) == ["count"]
    assert refused({"count": 3.0}) == ["count"]


@pytest.mark.parametrize("value", [False, True, "3", "0.5", "nan", None])
def test_a_number_is_not_a_bool_or_a_string(value: object) -> None:
    assert refused({"ratio": value}) == ["ratio"]


@pytest.mark.parametrize("value", [0, 1, "true", "false", "yes", "off", 0.0, None])
def test_a_bool_is_true_or_false(value: object) -> None:
    assert refused({"flag": value}) == ["flag"]


def test_a_negative_wait_and_a_bool_wait_are_refused() -> None:
    assert refused({"wait": -0.5}) == ["wait"]
    assert refused({"wait": True}) == ["wait"]


def test_valid_values_pass_and_an_integer_is_a_number() -> None:
    data = {"count": 3, "ratio": 2, "flag": True, "wait": 1}
    for body in (Body.model_validate_json(json.dumps(data)), Body.model_validate(data)):
        assert body == Body(count=3, ratio=2.0, flag=True, wait=1.0)
        assert type(body.ratio) is float and type(body.wait) is float


def test_models_built_in_code_keep_working() -> None:
    """Python ints for floats, a float subclass (NumPy's float64), an enum by its value, tuples given as lists."""
    meta = Meta(fps=10, qp=26, buffer_size=4)
    assert meta.fps == 10.0 and type(meta.fps) is float
    assert Knobs(resolution="360p", fps=np.float64(5.0)).fps == 5.0
    record = DropRecord.model_validate(
        {"source_id": "s", "task_id": 1, "task_uuid": "u", "root_uuid": "u", "reason": "queue_full", "at": 1}
    )
    assert record.reason is DropReason.QUEUE_FULL
    spec = DagSpec.model_validate(
        {"stages": [{"name": "a", "service": "x"}, {"name": "b", "service": "y"}], "edges": [["a", "b"]]}
    )
    assert spec.edges == [("a", "b")]
    report = ResourceReport(node="edge1", at=1, cpu=0, queue_lengths={"detect": 2})
    assert report.cpu == 0.0


def test_numpy_floats_build_models_and_numpy_integers_are_converted_first() -> None:
    """The documented limit: a NumPy integer is not an ``int``; code converts it where it makes it."""
    meta = Meta(fps=np.float32(12.5), buffer_size=int(np.int64(4)))
    assert (meta.fps, meta.buffer_size) == (12.5, 4) and type(meta.fps) is float
    with pytest.raises(ValidationError, match="buffer_size"):
        Meta(buffer_size=np.int64(4))


def test_a_task_round_trips_through_json_and_its_clone() -> None:
    dag = {
        "_start": {"name": "_start", "service": "_start", "next": ["_end"], "done": True},
        "_end": {"name": "_end", "service": "_end", "prev": ["_start"]},
    }
    task = Task(source_id="cam", task_id=4, source_node="edge1", dag=dag)
    task.dag["_start"].scenario = {"obj_num": 2}  # assigned, not validated: an int where a float is declared
    task.dag["_start"].timings.transmit = 1
    assert Task.from_json(task.to_json()) == task.clone()
    assert task.clone().dag["_start"].scenario == {"obj_num": 2.0}


def test_feedback_refuses_a_bool_delay_in_both_ways() -> None:
    feedback = {
        "kind": "task",
        "source_id": "cam",
        "task_id": 1,
        "source_node": "edge1",
        "created_at": 1.0,
        "delay": False,
        "meta": {},
    }
    ways: list[Callable[[], object]] = [
        lambda: FEEDBACK.validate_json(json.dumps(feedback)),
        lambda: FEEDBACK.validate_python(feedback),
    ]
    for validate in ways:
        with pytest.raises(ValidationError) as caught:
            validate()
        assert [e["loc"] for e in caught.value.errors()] == [("task", "delay")]


@pytest.mark.parametrize(
    ("strict", "lax"),
    [(Integer, int), (Number, float), (Boolean, bool), (NonNegativeNumber, float)],
)
def test_the_schema_says_the_same_as_before(strict: Any, lax: type) -> None:
    """The JSON Schema (and so the OpenAPI documents) does not change: only what validation takes does."""
    schema = TypeAdapter(strict).json_schema()
    schema.pop("minimum", None)
    assert schema == TypeAdapter(lax).json_schema()
